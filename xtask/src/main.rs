//! Project automation for the agora workspace.
//!
//! `cargo xtask test` is the README's test command: it installs what the
//! test suite needs from the system when it is missing (Debian's
//! `postgresql`, `chromium` and `chromium-driver`, PyPI's `schemathesis`;
//! see `setup`), then runs `cargo test --workspace` with the arguments
//! given. `cargo xtask ci` runs what CI runs: the unused-dependency check
//! (`cargo xtask deps`), formatting check, clippy with warnings denied, the
//! docs with warnings denied, and `cargo xtask test`. `cargo xtask bench` builds the
//! benchmark harness (`agora-bench`) in release and runs it, writing
//! docs/benchmarks.md (`--postgres`: only the PostgreSQL benchmarks;
//! `--watch`: only those of `agora watch`, with the `agora` binary). `cargo xtask mutants` runs cargo-mutants on the
//! pure crates and the use cases, each with its own tests, and writes the
//! counts and the surviving mutants to docs/testing.md. `cargo xtask chaos`
//! builds the chaos harness (`agora-chaos`) in release and runs the full
//! chaos run (worker processes on one store, faults, kills, store outages,
//! pauses, clock skew, held updates, reconciliation) on SQLite then on
//! PostgreSQL, writing docs/reliability.md; `--store sqlite|postgres` runs
//! only that one. `cargo xtask man`
//! writes the man pages of `agora` to docs/man/ (agora.1 and one per
//! subcommand; `agora __man` renders them, so xtask itself needs no clap).
//! `cargo xtask openapi` writes docs/openapi.yaml, the simulator's OpenAPI
//! document (agora-sim's `openapi` example generates it).
//! It uses only the
//! standard library, so it builds in seconds.

mod deps;
mod mutants;
mod setup;

use std::process::{Command, ExitCode};

fn cargo(args: &[&str]) -> bool {
    eprintln!("$ cargo {}", args.join(" "));
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    Command::new(cargo)
        .args(args)
        .status()
        .is_ok_and(|s| s.success())
}

fn root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn ci() -> bool {
    deps::check(&root())
        && cargo(&["fmt", "--all", "--check"])
        && cargo(&[
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ])
        && docs()
        && test(&setup::Options::default())
}

/// `cargo xtask test`: what the suite needs from the system, installed
/// when missing, then `cargo test --workspace` with the arguments given
/// (with `--dry-run`, only what would be installed and run).
fn test(options: &setup::Options) -> bool {
    if !setup::ready(&setup::System::from_env(), options.dry_run) {
        return false;
    }
    let mut args = vec!["test", "--workspace"];
    args.extend(options.cargo_args.iter().map(String::as_str));
    if options.dry_run {
        eprintln!("would run: cargo {}", args.join(" "));
        return true;
    }
    cargo(&args)
}

/// The workspace's docs, warnings denied.
fn docs() -> bool {
    eprintln!("$ RUSTDOCFLAGS=\"-D warnings\" cargo doc --workspace --no-deps");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    Command::new(cargo)
        .args(["doc", "--workspace", "--no-deps"])
        .env("RUSTDOCFLAGS", "-D warnings")
        .status()
        .is_ok_and(|s| s.success())
}

/// Builds `package` in release and runs its binary of the same name from
/// the workspace root with `args`.
fn release_run(package: &str, args: &[&str]) -> bool {
    if !cargo(&["build", "--release", "--package", package]) {
        return false;
    }
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let exe = root.join("target/release").join(package);
    eprintln!("$ {} {}", exe.display(), args.join(" "));
    Command::new(exe)
        .args(args)
        .current_dir(root)
        .status()
        .is_ok_and(|s| s.success())
}

/// Builds the harness in release and runs every benchmark; writes the
/// tables to docs/benchmarks.md. `--quick` runs small sizes (a smoke run)
/// and writes nothing. `--postgres` runs only the PostgreSQL benchmarks,
/// `--watch` only those of `agora watch` (`--idle-secs N`: its idle
/// window), `--no-postgres` all but the PostgreSQL ones; each rewrites only
/// its own section.
fn bench(quick: bool) -> bool {
    let mut args = vec!["all"];
    if quick {
        args.push("--quick");
    } else {
        args.extend(["--out", "docs/benchmarks.md"]);
    }
    for flag in ["--postgres", "--no-postgres", "--watch"] {
        if std::env::args().skip(2).any(|a| a == flag) {
            args.push(flag);
        }
    }
    let idle = option("idle-secs");
    if let Some(idle) = &idle {
        args.extend(["--idle-secs", idle.as_str()]);
    }
    // The watch benchmarks run the real `agora` binary, built beside.
    let watch = !std::env::args().skip(2).any(|a| a == "--postgres");
    if watch && !cargo(&["build", "--release", "--package", "agora-cli"]) {
        return false;
    }
    release_run("agora-bench", &args)
}

/// Builds the chaos harness in release and runs the full chaos run, with
/// every fault, on `store` (`sqlite` or `postgres`), or on both in turn
/// when none is named; writes its tables to docs/reliability.md (the
/// section of each store run). `--quick` runs the reduced run (the one of
/// the test suite) and writes nothing.
fn chaos(quick: bool, store: Option<&str>) -> bool {
    let stores = match store {
        Some(store) => vec![store],
        None => vec!["sqlite", "postgres"],
    };
    let mut ok = true;
    for store in stores {
        let mut args = vec!["run", "--store", store];
        if quick {
            args.push("--reduced");
        } else {
            args.extend(["--out", "docs/reliability.md"]);
        }
        ok &= release_run("agora-chaos", &args);
    }
    ok
}

/// The value of `--NAME VALUE` or `--NAME=VALUE` among the arguments.
fn option(name: &str) -> Option<String> {
    let flag = format!("--{name}");
    let mut args = std::env::args().skip(2);
    while let Some(a) = args.next() {
        if a == flag {
            return args.next();
        }
        if let Some(v) = a.strip_prefix(&format!("{flag}=")) {
            return Some(v.to_owned());
        }
    }
    None
}

/// Writes the man pages of `agora` (agora.1 and one per subcommand), as
/// `agora __man` renders them from the command line's own definition, to
/// docs/man/, replacing the pages there.
fn man() -> bool {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let dir = root.join("docs/man");
    if let Ok(pages) = std::fs::read_dir(&dir) {
        for page in pages.flatten() {
            if page.path().extension().is_some_and(|e| e == "1") {
                let _ = std::fs::remove_file(page.path());
            }
        }
    }
    let dir = dir.to_string_lossy().into_owned();
    cargo(&[
        "run",
        "--quiet",
        "--package",
        "agora-cli",
        "--",
        "__man",
        &dir,
    ])
}

/// Writes docs/openapi.yaml: the simulator's OpenAPI document, generated
/// from the route table and the wire models (agora-sim's `openapi`
/// example), as the simulator serves it at `/openapi.json`.
fn openapi() -> bool {
    let path = root().join("docs/openapi.yaml");
    let path = path.to_string_lossy().into_owned();
    cargo(&[
        "run",
        "--quiet",
        "--package",
        "agora-sim",
        "--example",
        "openapi",
        "--",
        &path,
    ])
}

fn main() -> ExitCode {
    let task = std::env::args().nth(1);
    let quick = std::env::args().any(|a| a == "--quick");
    let ok = match task.as_deref() {
        Some("ci") => ci(),
        Some("test") => test(&setup::Options::parse(std::env::args().skip(2))),
        Some("bench") => bench(quick),
        Some("mutants") => match mutants::Options::parse(std::env::args().skip(2)) {
            Ok(options) => mutants::run(&options),
            Err(e) => {
                eprintln!("cargo xtask mutants: {e}\n\n{}", mutants::USAGE);
                false
            }
        },
        Some("chaos") => chaos(quick, option("store").as_deref()),
        Some("deps") => deps::check(&root()),
        Some("man") => man(),
        Some("openapi") => openapi(),
        _ => {
            eprintln!(
                "usage: cargo xtask <task>\n\ntasks:\n  test [--dry-run] [CARGO TEST ARGS...]\n                   installs what the tests need when missing (apt-get as root or with sudo; pip), then cargo test --workspace ARGS\n  ci               unused dependencies, fmt check, clippy -D warnings, docs, tests (what CI runs)\n  deps             fails on a dependency its package's code never names\n  bench [--quick] [--postgres | --no-postgres]\n                   every benchmark (or only those on PostgreSQL, or all others), in release; writes docs/benchmarks.md\n  chaos [--quick] [--store sqlite|postgres]\n                   the chaos run (workers, faults, kills, store outages, pauses, clock skew, held updates; reconciliation by the simulator's request journal and field by field) on both stores or the one named, in release; writes docs/reliability.md\n  mutants [...]    mutation testing (cargo-mutants); writes docs/testing.md\n  man              the man pages of agora (from its clap definition); writes docs/man/\n  openapi          the simulator's OpenAPI document (from the route table and the wire models); writes docs/openapi.yaml\n\n{}",
                mutants::USAGE
            );
            false
        }
    };
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
