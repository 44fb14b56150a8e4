//! `tenon`: the one binary. Parses the command line, wires the store and the server, and maps failures to
//! exit codes. Everything it does is a thin call into `tenon-store` and `tenon-server`.

use std::process::ExitCode;

use clap::Parser;

#[cfg(feature = "bench")]
mod bench;
#[cfg(feature = "bench")]
mod bench_approvals;
#[cfg(feature = "bench")]
mod bench_dingtalk;
#[cfg(feature = "bench")]
mod bench_events;
#[cfg(feature = "bench")]
mod bench_flows;
#[cfg(feature = "bench")]
mod bench_formula;
#[cfg(feature = "bench")]
mod bench_ledger;
#[cfg(feature = "bench")]
mod bench_permissions;
#[cfg(feature = "bench")]
mod bench_records;
#[cfg(feature = "bench")]
mod bench_ui;
#[cfg(feature = "bench")]
mod bench_ui_report;
#[cfg(feature = "bench")]
mod bench_ui_seed;
mod cli;
mod commands;
mod data;
mod demo;
mod ledger;

/// mimalloc instead of glibc's allocator: profiles of record writes spent 10–25 % of the server's samples
/// in glibc's `malloc`/`free`; with it bulk creates ran ~20 % faster (docs/benchmarks.md). Built without
/// transparent huge pages (`no_thp`): with them its arenas added ~25 MiB to an idle node's RSS.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    // One TLS crypto provider (ring) for the whole process, before any pool or client exists.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cli = cli::Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::from(commands::EXIT_FAILURE);
        }
    };
    match runtime.block_on(commands::run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("error: {}", failure.message);
            ExitCode::from(failure.exit_code)
        }
    }
}
