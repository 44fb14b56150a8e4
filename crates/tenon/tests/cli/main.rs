//! The `tenon` binary as scripts use it: exact stdout, exit codes, and the CLI working beside a running
//! server. Each test runs on SQLite (a fresh data folder) and on PostgreSQL (a fresh database).

// Tests fail by panicking; that is their job.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Output, Stdio};

use tenon_store::DatabaseConfig;
use tenon_store::testing::{TestBackend, TestDatabase};

struct Env {
    database: TestDatabase,
}

impl Env {
    async fn new(backend: TestBackend) -> Env {
        Env {
            database: TestDatabase::create(backend).await,
        }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_tenon"));
        command
            .args(args)
            .arg("--data")
            .arg(self.database.dir.path())
            .env_remove("TENON_DATABASE_URL");
        if let DatabaseConfig::Postgres { url } = &self.database.config {
            command.arg("--database").arg(url);
        }
        command
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("tenon runs")
    }
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).expect("utf-8 stdout")
}

#[track_caller]
fn success(output: &Output) -> String {
    assert!(
        output.status.success(),
        "exit {:?}; stderr: {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    stdout(output)
}

/// Kills the server if a test fails half-way.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `tenon serve` with `extra` arguments; returns it and its base URL.
fn start_server(env: &Env, extra: &[&str]) -> (Server, String) {
    let mut args = vec!["serve", "--listen", "127.0.0.1:0"];
    args.extend_from_slice(extra);
    let mut server = Server(
        env.command(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("serve starts"),
    );
    let mut first_line = String::new();
    BufReader::new(server.0.stdout.take().expect("stdout"))
        .read_line(&mut first_line)
        .expect("banner");
    let base = first_line
        .split_whitespace()
        .find(|word| word.starts_with("http://"))
        .expect("address in banner")
        .to_owned();
    (server, base)
}

macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test]
            async fn sqlite() {
                super::$name(tenon_store::testing::TestBackend::Sqlite).await
            }
            #[tokio::test]
            async fn postgres() {
                super::$name(tenon_store::testing::TestBackend::Postgres).await
            }
        }
    )*};
}

#[cfg(feature = "bench")]
mod bench;
mod demo;
mod failures;
mod files;
mod ledger;
mod serve;
mod tokens;
