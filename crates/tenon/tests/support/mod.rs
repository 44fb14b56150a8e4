//! What the crash tests share: running the `tenon` binary of this build against a test database, and a
//! `tenon serve` that is killed when its handle is dropped (so a failing test never leaves one running).

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use tenon_store::DatabaseConfig;
use tenon_store::testing::TestDatabase;

pub struct Server {
    pub child: Child,
    pub base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `tenon <args> --data <dir> [--database <url>]` for the test database.
pub fn command(database: &TestDatabase, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tenon"));
    command
        .args(args)
        .arg("--data")
        .arg(database.dir.path())
        .env_remove("TENON_DATABASE_URL");
    if let DatabaseConfig::Postgres { url } = &database.config {
        command.arg("--database").arg(url);
    }
    command
}

/// Runs a CLI command to its end and returns its trimmed standard output; panics on failure.
pub fn run(database: &TestDatabase, args: &[&str]) -> String {
    let output = command(database, args).output().expect("tenon runs");
    assert!(
        output.status.success(),
        "tenon {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

/// Starts `tenon serve` on a free port with rate limits off and a 0.1 s delivery poll, plus `extra`
/// arguments, and waits for its banner.
pub fn start(database: &TestDatabase, extra: &[&str]) -> Server {
    let mut args = vec![
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--rate-limit",
        "off",
        "--delivery-poll",
        "0.1",
    ];
    args.extend_from_slice(extra);
    let mut child = command(database, &args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("tenon serve starts");
    let mut banner = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut banner)
        .unwrap();
    let base = banner
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .expect("banner has the address")
        .to_owned();
    Server { child, base }
}
