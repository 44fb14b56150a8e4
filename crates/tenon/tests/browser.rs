//! The browser tests: `crates/web/ui/e2e/run.mjs` drives Debian's chromium through playwright-core against
//! this build's `tenon serve --demo --listen 127.0.0.1:0`. Screenshots of each step land in `target/e2e/`.
//! Needs Node, `npm --prefix crates/web/ui ci` (run here when missing) and chromium (`.ci/run` installs it).

// Tests fail by panicking; that is their job.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::process::Command;

#[test]
fn the_ui_in_a_real_browser() {
    let ui = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../web/ui");
    if !ui.join("node_modules/playwright-core").exists() {
        let status = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(&ui)
            .status()
            .expect("npm runs (install Node.js and npm)");
        assert!(status.success(), "npm ci in crates/web/ui failed");
    }
    let output = Command::new("node")
        .arg("e2e/run.mjs")
        .env("TENON_BIN", env!("CARGO_BIN_EXE_tenon"))
        .current_dir(&ui)
        .output()
        .expect("node runs (install Node.js)");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stdout}");
    assert!(
        output.status.success(),
        "browser tests failed:\n{stdout}\n{stderr}"
    );
}
