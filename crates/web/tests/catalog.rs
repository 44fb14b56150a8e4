//! The catalogs and the committed bundles, without a server or Node: both languages have the same
//! messages with the same placeholders; every API error code has a message; every key a template or an
//! island uses exists; the built files match their sources (the STAMP).

// Tests fail by panicking; that is their job.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use tenon_model::{DetailCode, ErrorCode};
use tenon_web::i18n::{self, Lang};

fn placeholders(text: &str) -> BTreeSet<String> {
    regex::Regex::new(r"\{ \$([a-z_]+) \}")
        .unwrap()
        .captures_iter(text)
        .map(|capture| capture[1].to_owned())
        .collect()
}

fn catalog(lang: Lang) -> BTreeMap<&'static str, &'static str> {
    let entries = i18n::entries(lang);
    let map: BTreeMap<_, _> = entries.iter().copied().collect();
    assert_eq!(
        map.len(),
        entries.len(),
        "{}: a key appears twice",
        lang.tag()
    );
    map
}

#[test]
fn the_catalogs_have_the_same_keys_and_placeholders() {
    let zh = catalog(Lang::ZhCn);
    let en = catalog(Lang::En);
    let zh_keys: BTreeSet<_> = zh.keys().collect();
    let en_keys: BTreeSet<_> = en.keys().collect();
    assert_eq!(
        zh_keys.symmetric_difference(&en_keys).collect::<Vec<_>>(),
        Vec::<&&&str>::new(),
        "keys in one catalog only (crates/web/i18n/en.ftl, zh-CN.ftl)"
    );
    for (key, text) in &en {
        assert_eq!(
            placeholders(text),
            placeholders(zh[key]),
            "placeholders of {key}"
        );
        assert!(!text.is_empty() && !zh[key].is_empty(), "{key} is empty");
    }
    // Each line is a whole message that Fluent reads back as written.
    for lang in Lang::ALL {
        for (key, text) in catalog(lang) {
            let args: Vec<(&str, fluent_bundle::FluentValue<'_>)> = Vec::new();
            let formatted = i18n::message(lang, key, &args).unwrap_or_default();
            if placeholders(text).is_empty() {
                // Fluent writes a literal brace as {"{"}.
                let unescaped = text.replace("{\"{\"}", "{").replace("{\"}\"}", "}");
                assert_eq!(
                    formatted,
                    unescaped,
                    "{}: {key} is not a plain one-line message",
                    lang.tag()
                );
            }
        }
    }
}

#[test]
fn every_api_error_code_has_a_message_with_its_params() {
    for lang in Lang::ALL {
        let messages = catalog(lang);
        let mut missing = Vec::new();
        for code in ErrorCode::ALL {
            let key = format!("error-{}", code.as_str());
            match messages.get(key.as_str()) {
                None => missing.push(key),
                Some(text) => {
                    let expected: BTreeSet<String> =
                        code.params().iter().map(|p| (*p).to_owned()).collect();
                    assert!(
                        placeholders(text).is_subset(&expected),
                        "{key} uses a param the code lacks"
                    );
                }
            }
        }
        for code in DetailCode::ALL {
            let key = format!("detail-{}", code.as_str());
            match messages.get(key.as_str()) {
                None => missing.push(key),
                Some(text) => {
                    let expected: BTreeSet<String> =
                        code.params().iter().map(|p| (*p).to_owned()).collect();
                    assert!(
                        placeholders(text).is_subset(&expected),
                        "{key} uses a param the code lacks"
                    );
                }
            }
        }
        assert!(
            missing.is_empty(),
            "untranslated API error codes: add these to crates/web/i18n/{}.ftl (and the other catalog): {missing:?}",
            lang.tag()
        );
    }
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            found.extend(files_under(&path));
        } else {
            found.push(path);
        }
    }
    found
}

fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn every_key_templates_and_islands_use_exists() {
    let en = catalog(Lang::En);
    let mut used = BTreeSet::new();
    let template_call = regex::Regex::new(r#"\bt\(\s*["']([a-z0-9_-]+)["']"#).unwrap();
    for path in files_under(&crate_dir().join("templates")) {
        let text = std::fs::read_to_string(&path).unwrap();
        for capture in template_call.captures_iter(&text) {
            used.insert(capture[1].to_owned());
        }
    }
    for path in files_under(&crate_dir().join("ui/src")) {
        let text = std::fs::read_to_string(&path).unwrap();
        for capture in template_call.captures_iter(&text) {
            used.insert(capture[1].to_owned());
        }
    }
    // `data-done="js-…"`: the message a form announces when it succeeds.
    let done_attribute = regex::Regex::new(r#"data-done="([a-z0-9_-]+)""#).unwrap();
    for path in files_under(&crate_dir().join("templates")) {
        let text = std::fs::read_to_string(&path).unwrap();
        for capture in done_attribute.captures_iter(&text) {
            used.insert(capture[1].to_owned());
        }
    }
    assert!(used.len() > 20, "the key scan found too little: {used:?}");
    // `t("field-type-" ~ type)`: a prefix completed at run time; each completion is a catalog key.
    used.retain(|key| !key.ends_with('-'));
    for kind in tenon_model::apps::FieldType::ALL {
        used.insert(format!("field-type-{}", kind.as_str()));
    }
    for color in tenon_model::apps::field::CHOICE_COLORS {
        used.insert(format!("color-{color}"));
    }
    let missing: Vec<_> = used
        .iter()
        .filter(|key| !en.contains_key(key.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "keys used but not in the catalogs: {missing:?}"
    );
    // Island messages must be in the slice the pages hand over.
    for key in used.iter().filter(|key| key.starts_with("js-")) {
        assert!(i18n::client_slice(Lang::ZhCn).contains_key(key.as_str()));
    }
}

fn sha256(path: &Path) -> String {
    Sha256::digest(std::fs::read(path).unwrap())
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// Node-free check of the committed bundles: the STAMP written by the build must name exactly the current
/// inputs (islands' sources, lockfile, build script) and outputs, with their current hashes.
#[test]
fn the_built_islands_match_their_sources() {
    const REBUILD: &str = "run `npm --prefix crates/web/ui ci && npm --prefix crates/web/ui run build` and commit crates/web/assets";
    let root = crate_dir();
    let stamp = std::fs::read_to_string(root.join("assets/STAMP")).expect("assets/STAMP exists");
    let mut recorded = BTreeMap::new();
    for line in stamp.lines().filter(|line| !line.starts_with('#')) {
        let parts: Vec<&str> = line.split(' ').collect();
        assert_eq!(parts.len(), 3, "STAMP line {line:?}");
        recorded.insert(
            parts[1].to_owned(),
            (parts[0].to_owned(), parts[2].to_owned()),
        );
    }
    let mut inputs: Vec<PathBuf> =
        vec![root.join("ui/build.mjs"), root.join("ui/package-lock.json")];
    inputs.extend(files_under(&root.join("ui/src")));
    let outputs = [
        root.join("assets/islands.js"),
        root.join("assets/form.js"),
        root.join("assets/vendor/htmx.min.js"),
        root.join("assets/vendor/uplot.min.js"),
        root.join("assets/vendor/uplot.min.css"),
    ];
    let mut current = BTreeMap::new();
    for (kind, paths) in [("input", inputs.as_slice()), ("output", outputs.as_slice())] {
        for path in paths {
            let name = path
                .strip_prefix(&root)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            current.insert(name, (kind.to_owned(), sha256(path)));
        }
    }
    for (name, (kind, hash)) in &current {
        match recorded.get(name) {
            None => panic!("{name} is new since the last build: {REBUILD}"),
            Some((_, recorded_hash)) if recorded_hash != hash && kind == "input" => {
                panic!("{name} changed since the last build: {REBUILD}")
            }
            Some((_, recorded_hash)) if recorded_hash != hash => {
                panic!("{name} differs from what the build wrote (edited by hand?): {REBUILD}")
            }
            Some(_) => {}
        }
    }
    for name in recorded.keys() {
        assert!(
            current.contains_key(name),
            "{name} was removed since the last build: {REBUILD}"
        );
    }
}

/// The token dialog labels each scope with `js-scope-<scope>`; a scope without a message breaks the
/// admin tokens page (the template cannot render), so every scope the API knows needs one in each language.
#[test]
fn every_scope_has_a_label() {
    for lang in Lang::ALL {
        let messages = catalog(lang);
        let missing: Vec<String> = tenon_model::Scope::ALL
            .iter()
            .map(|scope| format!("js-scope-{}", scope.as_str().replace(':', "-")))
            .filter(|key| !messages.contains_key(key.as_str()))
            .collect();
        assert!(
            missing.is_empty(),
            "scopes without a label in crates/web/i18n/{}.ftl: {missing:?}",
            lang.tag()
        );
    }
}
