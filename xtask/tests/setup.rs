//! `cargo xtask test` on a bare machine: the built xtask with its lookups
//! under an empty directory (`AGORA_XTASK_SYSROOT`) reports exactly what it
//! would install with `--dry-run`, and, when it may not install
//! (`AGORA_XTASK_PRIVILEGE=none`), stops at once with the command to run.
//! As root, it runs the `apt-get` it finds, here a script of the test's
//! under that directory that records its arguments and puts the binaries in
//! place, then `cargo test --workspace`: `CARGO` is another such script, or
//! names no program, so a run that wrongly went on to the tests fails and
//! prints it. Nothing here runs the machine's apt-get or cargo.
#![allow(clippy::unwrap_used)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Mutex;

/// Held by each test while it writes scripts or runs xtask: a script being
/// written while another test's child is forked cannot be executed
/// ("text file busy").
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// A directory of its own under the system's temporary directory, removed
/// when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Self {
        let dir =
            std::env::temp_dir().join(format!("agora-xtask-test-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Writes the shell script `body` to `path`, executable.
fn script(path: &Path, body: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// `xtask test ARGS` with its lookups under `root` (`PATH` `/usr/bin:/bin`
/// there), as `privilege`; `cargo` is `root/cargo` (none unless a test
/// writes it).
fn xtask_test(root: &Scratch, privilege: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xtask"))
        .arg("test")
        .args(args)
        .env("AGORA_XTASK_SYSROOT", &root.0)
        .env("AGORA_XTASK_PRIVILEGE", privilege)
        .env("PATH", "/usr/bin:/bin")
        .env("CARGO", root.0.join("cargo"))
        .output()
        .unwrap()
}

/// What it printed (all on stderr), line by line; stdout stays empty.
fn lines(out: &Output) -> Vec<String> {
    assert_eq!(String::from_utf8_lossy(&out.stdout), "");
    String::from_utf8_lossy(&out.stderr)
        .lines()
        .map(str::to_owned)
        .collect()
}

const MISSING: [&str; 4] = [
    "missing: PostgreSQL's server binaries (initdb, pg_ctl), from Debian's package postgresql",
    "missing: Chromium (chromium), from Debian's package chromium",
    "missing: Chromium's WebDriver (chromedriver), from Debian's package chromium-driver",
    MISSING_SCHEMATHESIS,
];

/// What a bare machine needs, as `apt-get install -y` takes it.
const PACKAGES: &str = "postgresql chromium chromium-driver";

/// `MISSING` then `more`.
fn after_missing<S: AsRef<str>>(more: &[S]) -> Vec<String> {
    MISSING
        .iter()
        .map(|l| (*l).to_owned())
        .chain(more.iter().map(|l| l.as_ref().to_owned()))
        .collect()
}

const MISSING_SCHEMATHESIS: &str = "missing: schemathesis, the OpenAPI tester (schemathesis), from PyPI's package schemathesis==4.32.5";

/// Puts what Debian's packages bring under `root` (PostgreSQL 16's
/// binaries, Chromium and its driver); returns PostgreSQL's directory.
fn debian_there(root: &Scratch) -> PathBuf {
    let bin = root.0.join("usr/lib/postgresql/16/bin");
    std::fs::create_dir_all(&bin).unwrap();
    for name in ["initdb", "pg_ctl"] {
        std::fs::write(bin.join(name), "").unwrap();
    }
    let usr_bin = root.0.join("usr/bin");
    std::fs::create_dir_all(&usr_bin).unwrap();
    for name in ["chromium", "chromedriver"] {
        std::fs::write(usr_bin.join(name), "").unwrap();
    }
    bin
}

#[test]
fn a_dry_run_on_a_bare_machine_as_root_names_the_packages_and_the_commands() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let root = Scratch::new("dry-root");
    let out = xtask_test(
        &root,
        "root",
        &["--dry-run", "-p", "agora-domain", "--", "--nocapture"],
    );
    assert_eq!(
        lines(&out),
        after_missing(&[
            format!(
                "would run: apt-get update && apt-get install -y {PACKAGES} && python3 -m pip install schemathesis==4.32.5"
            ),
            "would run: cargo test --workspace -p agora-domain -- --nocapture".to_owned(),
        ])
    );
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn a_dry_run_with_sudo_puts_sudo_before_each_command() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let root = Scratch::new("dry-sudo");
    let out = xtask_test(&root, "sudo", &["--dry-run"]);
    assert_eq!(
        lines(&out),
        after_missing(&[
            format!(
                "would run: sudo apt-get update && sudo apt-get install -y {PACKAGES} && python3 -m pip install schemathesis==4.32.5"
            ),
            "would run: cargo test --workspace".to_owned(),
        ])
    );
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn a_user_who_may_not_install_is_stopped_at_once_with_the_command_to_run() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let root = Scratch::new("refused");
    for args in [&[][..], &["--dry-run"][..]] {
        let out = xtask_test(&root, "none", args);
        assert_eq!(
            lines(&out),
            after_missing(&[format!(
                "cargo xtask test: may not install {PACKAGES} (not root, and sudo asks for a password or is absent): run `sudo apt-get update && sudo apt-get install -y {PACKAGES} && python3 -m pip install schemathesis==4.32.5`, then `cargo xtask test` again"
            )]),
            "{args:?}"
        );
        assert_eq!(out.status.code(), Some(1), "{args:?}");
    }
}

#[test]
fn what_is_there_is_reported_found_and_nothing_is_installed() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let root = Scratch::new("found");
    let bin = debian_there(&root);
    let usr_bin = root.0.join("usr/bin");
    script(&usr_bin.join("schemathesis"), "exit 0");
    // May not install, and need not.
    let out = xtask_test(&root, "none", &["--dry-run"]);
    assert_eq!(
        lines(&out),
        [
            format!(
                "found: PostgreSQL's server binaries (initdb, pg_ctl) in {}",
                bin.display()
            ),
            format!("found: Chromium (chromium) in {}", usr_bin.display()),
            format!(
                "found: Chromium's WebDriver (chromedriver) in {}",
                usr_bin.display()
            ),
            format!(
                "found: schemathesis, the OpenAPI tester (schemathesis) in {}",
                usr_bin.display()
            ),
            "would run: cargo test --workspace".to_owned(),
        ]
    );
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn a_privilege_setting_it_does_not_know_is_refused() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let root = Scratch::new("unknown");
    let out = xtask_test(&root, "admin", &["--dry-run"]);
    assert_eq!(
        lines(&out),
        after_missing(&[
            "cargo xtask test: AGORA_XTASK_PRIVILEGE=admin: expected root, sudo or none",
        ])
    );
    assert_eq!(out.status.code(), Some(1));
}

/// The fake `apt-get` of a test: it records each call in `root/apt.log`
/// and, when `installs`, puts PostgreSQL 16's binaries, Chromium and its
/// driver under `root` on `install`.
fn apt_get(root: &Scratch, installs: bool) {
    let bin = root.0.join("usr/lib/postgresql/16/bin");
    let usr_bin = root.0.join("usr/bin");
    let put = if installs {
        format!(
            "mkdir -p '{0}' && touch '{0}/initdb' '{0}/pg_ctl' '{1}/chromium' '{1}/chromedriver'",
            bin.display(),
            usr_bin.display()
        )
    } else {
        "true".to_owned()
    };
    script(
        &root.0.join("usr/bin/apt-get"),
        &format!(
            "echo \"$*\" >>'{}'\n[ \"$1\" = install ] && {put}\nexit 0",
            root.0.join("apt.log").display()
        ),
    );
}

/// The fake `python3` of a test: it records each call in `root/pip.log`
/// and, when `installs`, puts a `schemathesis` on the PATH under `root`.
fn python3(root: &Scratch, installs: bool) {
    let put = if installs {
        format!(
            "printf '#!/bin/sh\\n' >'{0}' && chmod +x '{0}'",
            root.0.join("usr/bin/schemathesis").display()
        )
    } else {
        "true".to_owned()
    };
    script(
        &root.0.join("usr/bin/python3"),
        &format!(
            "echo \"$*\" >>'{}'\n[ \"$3\" = install ] && {put}\nexit 0",
            root.0.join("pip.log").display()
        ),
    );
}

/// What the fake `python3` was called with, a line a call.
fn pip_calls(root: &Scratch) -> String {
    std::fs::read_to_string(root.0.join("pip.log")).unwrap_or_default()
}

/// What the fake `apt-get` was called with, a line a call.
fn apt_calls(root: &Scratch) -> String {
    std::fs::read_to_string(root.0.join("apt.log")).unwrap_or_default()
}

#[test]
fn as_root_it_installs_what_is_missing_then_runs_the_tests_with_the_arguments_given() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let root = Scratch::new("install");
    apt_get(&root, true);
    python3(&root, true);
    script(
        &root.0.join("cargo"),
        &format!("echo \"$*\" >'{}'", root.0.join("cargo.log").display()),
    );
    let out = xtask_test(&root, "root", &["-p", "agora-domain", "--", "--nocapture"]);
    assert_eq!(
        lines(&out),
        after_missing(&[
            "$ apt-get update".to_owned(),
            format!("$ apt-get install -y {PACKAGES}"),
            "$ python3 -m pip install schemathesis==4.32.5".to_owned(),
            format!(
                "found: PostgreSQL's server binaries (initdb, pg_ctl) in {}",
                root.0.join("usr/lib/postgresql/16/bin").display()
            ),
            format!(
                "found: Chromium (chromium) in {}",
                root.0.join("usr/bin").display()
            ),
            format!(
                "found: Chromium's WebDriver (chromedriver) in {}",
                root.0.join("usr/bin").display()
            ),
            format!(
                "found: schemathesis, the OpenAPI tester (schemathesis) in {}",
                root.0.join("usr/bin").display()
            ),
            "$ cargo test --workspace -p agora-domain -- --nocapture".to_owned(),
        ])
    );
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(apt_calls(&root), format!("update\ninstall -y {PACKAGES}\n"));
    assert_eq!(pip_calls(&root), "-m pip install schemathesis==4.32.5\n");
    assert_eq!(
        std::fs::read_to_string(root.0.join("cargo.log")).unwrap(),
        "test --workspace -p agora-domain -- --nocapture\n"
    );
}

#[test]
fn a_package_that_brings_nothing_stops_the_run_before_the_tests() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let root = Scratch::new("brings-nothing");
    apt_get(&root, false);
    python3(&root, true);
    let out = xtask_test(&root, "root", &[]);
    assert_eq!(
        lines(&out),
        after_missing(&[
            "$ apt-get update".to_owned(),
            format!("$ apt-get install -y {PACKAGES}"),
            "$ python3 -m pip install schemathesis==4.32.5".to_owned(),
            "cargo xtask test: postgresql installed, yet PostgreSQL's server binaries (initdb, pg_ctl) are not found under /usr/lib/postgresql/*/bin or on the PATH".to_owned(),
        ])
    );
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn without_apt_get_it_says_what_to_install_and_stops() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let root = Scratch::new("no-apt");
    let out = xtask_test(&root, "root", &[]);
    assert_eq!(
        lines(&out),
        after_missing(&[
            "cargo xtask test: no apt-get on this machine: install PostgreSQL's server binaries (initdb, pg_ctl) and Chromium (chromium) and Chromium's WebDriver (chromedriver) with its own package manager, then run `cargo test --workspace`",
        ])
    );
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn schemathesis_alone_missing_is_installed_with_pip_without_privilege() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let root = Scratch::new("pip-only");
    debian_there(&root);
    python3(&root, true);
    script(
        &root.0.join("cargo"),
        &format!("echo \"$*\" >'{}'", root.0.join("cargo.log").display()),
    );
    let dry = xtask_test(&root, "none", &["--dry-run"]);
    assert_eq!(
        lines(&dry)[3..],
        [
            MISSING_SCHEMATHESIS,
            "would run: python3 -m pip install schemathesis==4.32.5",
            "would run: cargo test --workspace",
        ]
    );
    assert_eq!(pip_calls(&root), "");
    let out = xtask_test(&root, "none", &[]);
    assert_eq!(
        lines(&out)[3..],
        [
            MISSING_SCHEMATHESIS.to_owned(),
            "$ python3 -m pip install schemathesis==4.32.5".to_owned(),
            format!(
                "found: schemathesis, the OpenAPI tester (schemathesis) in {}",
                root.0.join("usr/bin").display()
            ),
            "$ cargo test --workspace".to_owned(),
        ]
    );
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(pip_calls(&root), "-m pip install schemathesis==4.32.5\n");
}

#[test]
fn without_python3_it_says_how_to_install_schemathesis_and_stops() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let root = Scratch::new("no-python");
    debian_there(&root);
    let out = xtask_test(&root, "none", &[]);
    assert_eq!(
        lines(&out)[3..],
        [
            MISSING_SCHEMATHESIS,
            "cargo xtask test: no python3 on the PATH: install schemathesis, the OpenAPI tester (schemathesis) with `pip install schemathesis==4.32.5` in a Python of the PATH, then run `cargo test --workspace`",
        ]
    );
    assert_eq!(out.status.code(), Some(1));
}
