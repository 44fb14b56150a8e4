//! The app templates shipped in `templates/` are valid definitions.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use tenon_exchange::definition::{self, FileFormat};

#[test]
fn every_shipped_template_is_a_valid_definition() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../templates");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        let file = definition::read(&text, FileFormat::Yaml)
            .unwrap_or_else(|error| panic!("{}: {error}", path.display()));
        let app =
            definition::check(file).unwrap_or_else(|error| panic!("{}: {error}", path.display()));
        assert!(!app.tables.is_empty(), "{}", path.display());
        checked += 1;
    }
    assert!(checked >= 4);
}
