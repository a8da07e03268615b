//! # agora-bench
//!
//! The benchmark harness behind `cargo xtask bench`. Every figure is a
//! median of several runs measured in one session, and the targets are
//! ratios between figures of that session, because this machine is shared
//! and absolute times vary from run to run.
//!
//! Each measurement that reports memory runs in a child process of its own
//! (`agora-bench <mode> …`), so its peak RSS (`VmHWM`) is its own; the
//! simulator serves from another child process. The PostgreSQL benchmarks
//! run on a throwaway server the harness starts (`pg`).
//!
//! It is a tool of this repository, not a library: nothing links it.

mod hooks;
mod measure;
mod micro;
mod pg;
mod report;
mod watch;

use std::process::ExitCode;

fn usage() -> ExitCode {
    eprintln!(
        "usage: agora-bench all [--quick] [--out FILE] [--postgres | --no-postgres | --watch] [--idle-secs N]\n\
         modes used by `all`: serve SIZE | sync URL N | parse URL N | store URL N | naive URL N |\n\
         overhead URL N CONCURRENCY | load URL N CONCURRENCY | micro |\n\
         pg-sync URL N PGURL | pg-store URL N PGURL | pg-copy URL N PGURL | pg-deliver URL PGURL NAME |\n\
         pg-direct URL PGURL SLOT OF TASKS | webhooks N"
    );
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(mode) = args.first() else {
        return usage();
    };
    // A worker process of the outbox benchmark, and the processes sending
    // the same requests straight, run on one thread, as a worker loop
    // would: a second thread only adds wake-ups across threads to each of
    // their sequential calls.
    let single = matches!(mode.as_str(), "pg-deliver" | "pg-direct")
        && std::env::var_os("AGORA_BENCH_MULTI").is_none();
    let rt = match if single {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
    } {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("agora-bench: {e}");
            return ExitCode::FAILURE;
        }
    };
    let arg = |i: usize| args.get(i).cloned().unwrap_or_default();
    let num = |i: usize| arg(i).parse::<u64>().unwrap_or(0);
    let result = rt.block_on(async {
        match mode.as_str() {
            "serve" => measure::serve(num(1)).await,
            "sync" => measure::sync(&arg(1), num(2)).await,
            "parse" => measure::parse(&arg(1), num(2)).await,
            "store" => measure::store(&arg(1), num(2)).await,
            "naive" => measure::naive(&arg(1), num(2)).await,
            "overhead" => measure::overhead(&arg(1), num(2), num(3)).await,
            "load" => measure::load(&arg(1), num(2), num(3)).await,
            "webhooks" => hooks::burst(num(1)).await.map(|v| println_json(&v)),
            "pg-sync" => pg::sync(&arg(1), num(2), &arg(3)).await,
            "pg-store" => pg::store(&arg(1), num(2), &arg(3)).await,
            "pg-copy" => pg::copy(&arg(1), num(2), &arg(3)).await,
            "pg-deliver" => pg::deliver(&arg(1), &arg(2), &arg(3)).await,
            "pg-direct" => pg::direct(&arg(1), &arg(2), (num(3), num(4).max(1)), num(5)).await,
            "micro" => micro::run(args.iter().any(|a| a == "--quick")).map(|v| println_json(&v)),
            "all" => {
                let quick = args.iter().any(|a| a == "--quick");
                let out = args
                    .iter()
                    .position(|a| a == "--out")
                    .and_then(|i| args.get(i + 1))
                    .cloned();
                let flag = |f: &str| args.iter().any(|a| a == f);
                let only_watch = flag("--watch");
                let parts = report::Parts {
                    core: !flag("--postgres") && !only_watch,
                    postgres: !flag("--no-postgres") && !only_watch,
                    watch: !flag("--postgres"),
                    idle_secs: args
                        .iter()
                        .position(|a| a == "--idle-secs")
                        .and_then(|i| args.get(i + 1))
                        .and_then(|v| v.parse().ok()),
                };
                report::all(quick, out.as_deref(), parts).await
            }
            _ => Err("unknown mode".to_owned()),
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("agora-bench {mode}: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Prints one JSON result line on stdout (the parent reads it).
#[allow(clippy::print_stdout)]
pub(crate) fn println_json(v: &serde_json::Value) {
    println!("{v}");
}
