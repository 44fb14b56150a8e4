//! The app templates shipped in `templates/` are valid definitions.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::path::PathBuf;

use tenon_exchange::definition::{self, FileFormat};
use tenon_model::apps::definition::AppDefinition;

/// Every file in `templates/`, read and checked.
fn shipped() -> Vec<(PathBuf, AppDefinition)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../templates");
    let mut apps = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        let file = definition::read(&text, FileFormat::Yaml)
            .unwrap_or_else(|error| panic!("{}: {error}", path.display()));
        let app =
            definition::check(file).unwrap_or_else(|error| panic!("{}: {error}", path.display()));
        apps.push((path, app));
    }
    apps
}

#[test]
fn every_shipped_template_is_a_valid_definition() {
    let apps = shipped();
    for (path, app) in &apps {
        assert!(!app.tables.is_empty(), "{}", path.display());
    }
    assert!(apps.len() >= 4);
}

/// The templates show what an app can do beyond plain fields: computed fields, validation rules, and
/// views of several kinds with a board and a form. (Whether formulas and views fit their tables is
/// checked when the server imports every template.)
#[test]
fn every_shipped_template_has_computed_fields_rules_and_views() {
    for (path, app) in shipped() {
        let fields = app.tables.iter().flat_map(|table| &table.fields);
        let computed = fields
            .filter(|spec| spec.kind.field_type().is_computed())
            .count();
        let rules: usize = app
            .tables
            .iter()
            .map(|table| table.validation_rules.len())
            .sum();
        let view_types: BTreeSet<&str> = app
            .tables
            .iter()
            .flat_map(|table| &table.views)
            .map(|view| view.view_type.as_str())
            .collect();
        let path = path.display();
        assert!(computed >= 3, "{path}: {computed} computed fields");
        assert!(rules >= 2, "{path}: {rules} validation rules");
        assert!(
            view_types.contains("kanban") && view_types.contains("form") && view_types.len() >= 3,
            "{path}: views {view_types:?}"
        );
        for table in &app.tables {
            for (formula, message) in &table.validation_rules {
                assert!(
                    !formula.trim().is_empty() && !message.trim().is_empty(),
                    "{path}: table {} has an empty rule",
                    table.key
                );
            }
        }
    }
}
