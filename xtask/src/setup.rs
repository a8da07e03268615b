//! `cargo xtask test`: the README's test command on any machine. This
//! module owns what the test suite needs from the system
//! ([`REQUIREMENTS`]: what, the binaries that prove it is there, where they
//! live, and the package that brings them, Debian's or PyPI's), finding it,
//! and installing what is missing: Debian's packages (`apt-get update`
//! once, then one `apt-get install -y`) as root, or through `sudo` when it
//! asks for no password, then PyPI's (one `python3 -m pip install`, into
//! the Python on the `PATH`, pinned). Otherwise it stops at once, naming
//! the command to run.
//! `main` then runs `cargo test --workspace` with the arguments given.
//!
//! Two settings exist for the tests of this command only:
//! `AGORA_XTASK_SYSROOT` makes every lookup resolve under that directory
//! (`/usr/lib/postgresql/*/bin` and each `PATH` entry), so an empty
//! directory is a bare machine; `AGORA_XTASK_PRIVILEGE` (`root`, `sudo` or
//! `none`) replaces asking the system whether this process may install.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The test-only setting: the directory every lookup resolves under.
pub(crate) const SYSROOT: &str = "AGORA_XTASK_SYSROOT";

/// The test-only setting: `root`, `sudo` or `none` instead of asking the
/// system whether this process may install.
pub(crate) const PRIVILEGE: &str = "AGORA_XTASK_PRIVILEGE";

/// One thing the test suite needs from the system.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Requirement {
    /// What it is, for messages.
    pub(crate) what: &'static str,
    /// The executables that must all be in one directory.
    pub(crate) binaries: &'static [&'static str],
    /// Where they are looked for before the `PATH`, newest first; a `*`
    /// component matches any entry (a version).
    pub(crate) dirs: &'static [&'static str],
    /// The package that brings them (a PyPI package pinned: `name==version`).
    pub(crate) package: &'static str,
    /// Where the package comes from.
    pub(crate) from: Registry,
}

/// Where a package of [`REQUIREMENTS`] comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Registry {
    /// Debian's packages, through `apt-get`.
    Debian,
    /// PyPI, through `python3 -m pip`.
    PyPi,
}

impl Registry {
    /// The registry's name in messages.
    fn name(self) -> &'static str {
        match self {
            Self::Debian => "Debian's",
            Self::PyPi => "PyPI's",
        }
    }
}

/// The schemathesis the API test runs (tests/schemathesis.rs of agora-sim),
/// pinned: a new release may add checks.
pub(crate) const SCHEMATHESIS: &str = "schemathesis==4.32.5";

/// What the test suite needs: one row each. PostgreSQL for the
/// PostgreSQL store's tests; Chromium and its WebDriver for the OEM
/// console's browser test (agora-cli's `console_browser`); schemathesis
/// for the simulator's API conformance test.
pub(crate) const REQUIREMENTS: &[Requirement] = &[
    Requirement {
        what: "PostgreSQL's server binaries",
        binaries: &["initdb", "pg_ctl"],
        dirs: &["/usr/lib/postgresql/*/bin"],
        package: "postgresql",
        from: Registry::Debian,
    },
    Requirement {
        what: "Chromium",
        binaries: &["chromium"],
        dirs: &["/usr/bin"],
        package: "chromium",
        from: Registry::Debian,
    },
    Requirement {
        what: "Chromium's WebDriver",
        binaries: &["chromedriver"],
        dirs: &["/usr/bin"],
        package: "chromium-driver",
        from: Registry::Debian,
    },
    Requirement {
        what: "schemathesis, the OpenAPI tester",
        binaries: &["schemathesis"],
        dirs: &[],
        package: SCHEMATHESIS,
        from: Registry::PyPi,
    },
];

impl Requirement {
    /// Its name and binaries: `PostgreSQL's server binaries (initdb, pg_ctl)`.
    fn named(&self) -> String {
        format!("{} ({})", self.what, self.binaries.join(", "))
    }
}

/// Where lookups happen: the machine's own directories, or the same paths
/// under a test's directory.
#[derive(Debug)]
pub(crate) struct System {
    /// The directory absolute paths resolve under (`None`: `/`).
    root: Option<PathBuf>,
    /// The `PATH` entries, as given.
    path: Vec<PathBuf>,
}

impl System {
    /// This machine, or the one under `AGORA_XTASK_SYSROOT` when it is set.
    pub(crate) fn from_env() -> Self {
        Self::new(
            std::env::var_os(SYSROOT).map(PathBuf::from),
            std::env::var_os("PATH"),
        )
    }

    /// Lookups under `root` (`None`: `/`) with `path` as the `PATH`.
    pub(crate) fn new(root: Option<PathBuf>, path: Option<OsString>) -> Self {
        let path = path
            .map(|p| std::env::split_paths(&p).collect())
            .unwrap_or_default();
        Self { root, path }
    }

    /// `dir` as seen from here: under the root when there is one.
    fn resolve(&self, dir: &Path) -> PathBuf {
        match &self.root {
            Some(root) => root.join(dir.strip_prefix("/").unwrap_or(dir)),
            None => dir.to_owned(),
        }
    }

    /// The directory holding every binary of `requirement`: its own
    /// directories first, then the `PATH`.
    pub(crate) fn find(&self, requirement: &Requirement) -> Option<PathBuf> {
        requirement
            .dirs
            .iter()
            .flat_map(|d| expand(&self.resolve(Path::new(d))))
            .chain(self.path.iter().map(|p| self.resolve(p)))
            .find(|dir| requirement.binaries.iter().all(|b| dir.join(b).is_file()))
    }

    /// Where `program` is on the `PATH` (under the root when there is
    /// one: a test's own `apt-get`).
    fn which(&self, program: &str) -> Option<PathBuf> {
        self.path
            .iter()
            .map(|p| self.resolve(p).join(program))
            .find(|p| p.is_file())
    }
}

/// The directories `pattern` names, a `*` component matching any entry,
/// newest version first (numbers compared as numbers).
fn expand(pattern: &Path) -> Vec<PathBuf> {
    let mut found = vec![PathBuf::new()];
    for part in pattern.components() {
        if part.as_os_str() == "*" {
            found = found
                .into_iter()
                .flat_map(|dir| {
                    let mut entries: Vec<PathBuf> = std::fs::read_dir(&dir)
                        .into_iter()
                        .flatten()
                        .flatten()
                        .map(|e| e.path())
                        .collect();
                    entries.sort_by_key(|p| {
                        let name = p.file_name().unwrap_or_default().to_string_lossy();
                        std::cmp::Reverse((name.parse::<u64>().ok(), name.into_owned()))
                    });
                    entries
                })
                .collect();
        } else {
            for dir in &mut found {
                dir.push(part);
            }
        }
    }
    found
}

/// What the suite needs and `system` lacks, in table order.
pub(crate) fn missing<'a>(
    system: &System,
    requirements: &'a [Requirement],
) -> Vec<&'a Requirement> {
    requirements
        .iter()
        .filter(|r| system.find(r).is_none())
        .collect()
}

/// The packages bringing `missing`, each once, in order.
pub(crate) fn packages(missing: &[&Requirement]) -> Vec<&'static str> {
    let mut out: Vec<&'static str> = Vec::new();
    for r in missing {
        if !out.contains(&r.package) {
            out.push(r.package);
        }
    }
    out
}

/// The packages bringing `missing` from `registry`, each once, in order.
fn packages_from(missing: &[&Requirement], registry: Registry) -> Vec<&'static str> {
    let from: Vec<&Requirement> = missing
        .iter()
        .copied()
        .filter(|r| r.from == registry)
        .collect();
    packages(&from)
}

/// Whether this process may install packages, and how.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Privilege {
    /// Running as root: `apt-get` itself.
    Root,
    /// `sudo` without a password: `sudo apt-get`.
    Sudo,
    /// Neither: the user must run the command.
    None,
}

impl Privilege {
    /// `AGORA_XTASK_PRIVILEGE` when set, else what this process is: root,
    /// or allowed `sudo -n true`, or neither.
    fn detect() -> Result<Self, String> {
        match std::env::var(PRIVILEGE).as_deref() {
            Ok("root") => Ok(Self::Root),
            Ok("sudo") => Ok(Self::Sudo),
            Ok("none") => Ok(Self::None),
            Ok(other) => Err(format!("{PRIVILEGE}={other}: expected root, sudo or none")),
            Err(_) if running_as_root() => Ok(Self::Root),
            Err(_) if sudo_without_password() => Ok(Self::Sudo),
            Err(_) => Ok(Self::None),
        }
    }
}

/// Whether this process runs as root.
fn running_as_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// Whether `sudo` runs a command without asking for a password.
fn sudo_without_password() -> bool {
    Command::new("sudo")
        .args(["-n", "true"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The commands installing `debian` and `pypi` packages: `apt-get
/// update`, then `apt-get install -y` with them all, each behind `sudo`
/// when `sudo` (none when `debian` is empty); then `python3 -m pip install`
/// with the PyPI ones, as this user (into the Python on the `PATH`).
pub(crate) fn install_commands(debian: &[&str], pypi: &[&str], sudo: bool) -> Vec<Vec<String>> {
    let mut commands = Vec::new();
    if !debian.is_empty() {
        let prefix: Vec<String> = if sudo {
            vec!["sudo".to_owned()]
        } else {
            Vec::new()
        };
        let mut update = prefix.clone();
        update.extend(["apt-get".to_owned(), "update".to_owned()]);
        let mut install = prefix;
        install.extend(["apt-get", "install", "-y"].map(str::to_owned));
        install.extend(debian.iter().map(|p| (*p).to_owned()));
        commands.extend([update, install]);
    }
    if !pypi.is_empty() {
        let mut pip: Vec<String> = ["python3", "-m", "pip", "install"]
            .map(str::to_owned)
            .to_vec();
        pip.extend(pypi.iter().map(|p| (*p).to_owned()));
        commands.push(pip);
    }
    commands
}

/// The install commands as one shell line: `apt-get update && apt-get
/// install -y postgresql && python3 -m pip install schemathesis==4.32.5`.
pub(crate) fn install_line(debian: &[&str], pypi: &[&str], sudo: bool) -> String {
    install_commands(debian, pypi, sudo)
        .iter()
        .map(|c| c.join(" "))
        .collect::<Vec<_>>()
        .join(" && ")
}

/// The line reporting `requirement` found in `dir`.
pub(crate) fn found_line(requirement: &Requirement, dir: &Path) -> String {
    format!("found: {} in {}", requirement.named(), dir.display())
}

/// The line reporting `requirement` missing.
pub(crate) fn missing_line(requirement: &Requirement) -> String {
    format!(
        "missing: {}, from {} package {}",
        requirement.named(),
        requirement.from.name(),
        requirement.package
    )
}

/// The one line with which a user who may not install is stopped: the
/// command installing everything missing.
pub(crate) fn refusal_line(debian: &[&str], pypi: &[&str]) -> String {
    format!(
        "cargo xtask test: may not install {} (not root, and sudo asks for a password or is absent): run `{}`, then `cargo xtask test` again",
        debian.join(" "),
        install_line(debian, pypi, true)
    )
}

/// What `cargo xtask test` was asked to do.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Options {
    /// Report what would be installed and run, and do neither.
    pub(crate) dry_run: bool,
    /// The arguments for `cargo test --workspace`.
    pub(crate) cargo_args: Vec<String>,
}

impl Options {
    /// Reads the arguments after `test`: `--dry-run` before any `--` is
    /// this command's; every other argument goes to `cargo test
    /// --workspace` as given, `--` and what follows included.
    pub(crate) fn parse(args: impl Iterator<Item = String>) -> Self {
        let mut options = Self::default();
        let mut own = true;
        for arg in args {
            own &= arg != "--";
            if own && arg == "--dry-run" {
                options.dry_run = true;
            } else {
                options.cargo_args.push(arg);
            }
        }
        options
    }
}

/// Makes sure the suite has what it needs on `system`: reports each
/// requirement found or missing, installs the missing packages when this
/// process may (or only says how, with `dry_run`), and stops with the
/// command to run when it may not. True when the tests may run.
pub(crate) fn ready(system: &System, dry_run: bool) -> bool {
    for requirement in REQUIREMENTS {
        match system.find(requirement) {
            Some(dir) => eprintln!("{}", found_line(requirement, &dir)),
            None => eprintln!("{}", missing_line(requirement)),
        }
    }
    let missing = missing(system, REQUIREMENTS);
    if missing.is_empty() {
        return true;
    }
    let debian = packages_from(&missing, Registry::Debian);
    let pypi = packages_from(&missing, Registry::PyPi);
    // Debian's packages need root (or sudo); PyPI's go into this user's
    // Python.
    let sudo = if debian.is_empty() {
        false
    } else {
        let privilege = match Privilege::detect() {
            Ok(privilege) => privilege,
            Err(e) => {
                eprintln!("cargo xtask test: {e}");
                return false;
            }
        };
        match privilege {
            Privilege::Root => false,
            Privilege::Sudo => true,
            Privilege::None => {
                eprintln!("{}", refusal_line(&debian, &pypi));
                return false;
            }
        }
    };
    if dry_run {
        eprintln!("would run: {}", install_line(&debian, &pypi, sudo));
        return true;
    }
    let lacking = |registry: Registry| {
        missing
            .iter()
            .filter(|r| r.from == registry)
            .map(|r| r.named())
            .collect::<Vec<_>>()
            .join(" and ")
    };
    if !debian.is_empty() && system.which("apt-get").is_none() {
        eprintln!(
            "cargo xtask test: no apt-get on this machine: install {} with its own package manager, then run `cargo test --workspace`",
            lacking(Registry::Debian)
        );
        return false;
    }
    if !pypi.is_empty() && system.which("python3").is_none() {
        eprintln!(
            "cargo xtask test: no python3 on the PATH: install {} with `pip install {}` in a Python of the PATH, then run `cargo test --workspace`",
            lacking(Registry::PyPi),
            pypi.join(" ")
        );
        return false;
    }
    if !install_commands(&debian, &pypi, sudo)
        .iter()
        .all(|command| install(system, command))
    {
        return false;
    }
    // The packages are in: each requirement must now be found.
    missing
        .iter()
        .all(|requirement| match system.find(requirement) {
            Some(dir) => {
                eprintln!("{}", found_line(requirement, &dir));
                true
            }
            None => {
                let under = if requirement.dirs.is_empty() {
                    String::new()
                } else {
                    format!(" under {} or", requirement.dirs.join(" or "))
                };
                eprintln!(
                    "cargo xtask test: {} installed, yet {} are not found{under} on the PATH",
                    requirement.package,
                    requirement.named(),
                );
                false
            }
        })
}

/// Runs one install command, its program found on `system`'s `PATH`
/// (`sudo` made never to ask: `sudo -n`), printing it first; its output is
/// apt-get's. True when it succeeded.
fn install(system: &System, command: &[String]) -> bool {
    let mut command = command.to_vec();
    if command.first().is_some_and(|c| c == "sudo") {
        command.insert(1, "-n".to_owned());
    }
    eprintln!("$ {}", command.join(" "));
    let Some((name, args)) = command.split_first() else {
        return false;
    };
    let Some(program) = system.which(name) else {
        eprintln!("cargo xtask test: no {name} on the PATH");
        return false;
    };
    let ok = Command::new(program)
        .args(args)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .stdin(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        eprintln!("cargo xtask test: `{}` failed", command.join(" "));
    }
    ok
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A directory of its own under the system's temporary directory,
    /// removed when dropped.
    struct Scratch(PathBuf);

    impl Scratch {
        fn new(name: &str) -> Self {
            let dir = std::env::temp_dir()
                .join(format!("agora-xtask-setup-{}-{name}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            Self(dir)
        }

        /// Creates the empty files `names` in `dir` under this one.
        fn files(&self, dir: &str, names: &[&str]) -> PathBuf {
            let dir = self.0.join(dir);
            std::fs::create_dir_all(&dir).unwrap();
            for name in names {
                std::fs::write(dir.join(name), "").unwrap();
            }
            dir
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn postgres() -> &'static Requirement {
        &REQUIREMENTS[0]
    }

    #[test]
    fn a_bare_machine_lacks_every_requirement() {
        let root = Scratch::new("bare");
        let system = System::new(Some(root.0.clone()), Some("/usr/bin:/bin".into()));
        assert_eq!(
            missing(&system, REQUIREMENTS),
            REQUIREMENTS.iter().collect::<Vec<_>>()
        );
        assert_eq!(system.which("sh"), None);
        assert_eq!(
            packages(&missing(&system, REQUIREMENTS)),
            [
                "postgresql",
                "chromium",
                "chromium-driver",
                "schemathesis==4.32.5"
            ]
        );
    }

    #[test]
    fn postgresql_is_found_under_its_newest_version_with_both_binaries() {
        let root = Scratch::new("versions");
        root.files("usr/lib/postgresql/9/bin", &["initdb", "pg_ctl"]);
        let newest = root.files("usr/lib/postgresql/16/bin", &["initdb", "pg_ctl"]);
        // A newer version without pg_ctl does not count.
        root.files("usr/lib/postgresql/17/bin", &["initdb"]);
        let system = System::new(Some(root.0.clone()), None);
        assert_eq!(system.find(postgres()), Some(newest));
        assert_eq!(
            packages(&missing(&system, REQUIREMENTS)),
            ["chromium", "chromium-driver", "schemathesis==4.32.5"]
        );
    }

    #[test]
    fn postgresql_is_found_on_the_path_under_the_root() {
        let root = Scratch::new("path");
        let bin = root.files("opt/pg/bin", &["initdb", "pg_ctl", "apt-get"]);
        let system = System::new(Some(root.0.clone()), Some("/nowhere:/opt/pg/bin".into()));
        assert_eq!(system.find(postgres()), Some(bin.clone()));
        assert_eq!(system.which("apt-get"), Some(bin.join("apt-get")));
        // Without a root, the PATH is this machine's.
        const ON_PATH: Requirement = Requirement {
            what: "on the PATH only",
            binaries: &["initdb", "pg_ctl"],
            dirs: &[],
            package: "postgresql",
            from: Registry::Debian,
        };
        let elsewhere = System::new(None, Some(root.0.join("opt/pg/bin").into()));
        assert_eq!(elsewhere.find(&ON_PATH), Some(root.0.join("opt/pg/bin")));
    }

    #[test]
    fn packages_are_named_once_in_table_order() {
        const ROWS: &[Requirement] = &[
            Requirement {
                what: "a",
                binaries: &["a"],
                dirs: &[],
                package: "p",
                from: Registry::Debian,
            },
            Requirement {
                what: "b",
                binaries: &["b"],
                dirs: &[],
                package: "q",
                from: Registry::Debian,
            },
            Requirement {
                what: "c",
                binaries: &["c"],
                dirs: &[],
                package: "p",
                from: Registry::Debian,
            },
        ];
        assert_eq!(packages(&ROWS.iter().collect::<Vec<_>>()), ["p", "q"]);
    }

    #[test]
    fn the_install_command_is_one_update_then_one_install() {
        assert_eq!(
            install_line(&["postgresql"], &[], false),
            "apt-get update && apt-get install -y postgresql"
        );
        assert_eq!(
            install_line(&["postgresql", "chromium"], &[], true),
            "sudo apt-get update && sudo apt-get install -y postgresql chromium"
        );
        // PyPI's packages after Debian's, never behind sudo; alone, no apt-get.
        assert_eq!(
            install_line(&["postgresql"], &[SCHEMATHESIS], true),
            "sudo apt-get update && sudo apt-get install -y postgresql && python3 -m pip install schemathesis==4.32.5"
        );
        assert_eq!(
            install_line(&[], &[SCHEMATHESIS], true),
            "python3 -m pip install schemathesis==4.32.5"
        );
    }

    #[test]
    fn the_lines_name_the_binaries_the_package_and_the_command() {
        assert_eq!(
            missing_line(postgres()),
            "missing: PostgreSQL's server binaries (initdb, pg_ctl), from Debian's package postgresql"
        );
        assert_eq!(
            found_line(postgres(), Path::new("/usr/lib/postgresql/15/bin")),
            "found: PostgreSQL's server binaries (initdb, pg_ctl) in /usr/lib/postgresql/15/bin"
        );
        assert_eq!(
            refusal_line(&["postgresql"], &[]),
            "cargo xtask test: may not install postgresql (not root, and sudo asks for a password or is absent): run `sudo apt-get update && sudo apt-get install -y postgresql`, then `cargo xtask test` again"
        );
        assert_eq!(
            missing_line(&REQUIREMENTS[3]),
            "missing: schemathesis, the OpenAPI tester (schemathesis), from PyPI's package schemathesis==4.32.5"
        );
    }

    #[test]
    fn only_dry_run_before_the_separator_is_taken_the_rest_goes_to_cargo_test() {
        let parse = |args: &[&str]| Options::parse(args.iter().map(|a| (*a).to_owned()));
        assert_eq!(parse(&[]), Options::default());
        assert_eq!(
            parse(&["-p", "x", "--dry-run", "--", "--dry-run", "--nocapture"]),
            Options {
                dry_run: true,
                cargo_args: ["-p", "x", "--", "--dry-run", "--nocapture"]
                    .map(str::to_owned)
                    .to_vec(),
            }
        );
    }
}
