//! `cargo xtask mutants`: mutation testing with cargo-mutants.
//!
//! Each crate is mutated and judged by its own tests only (`--package`): a
//! pure crate's behaviour must be pinned where it lives. A full run writes
//! each crate's counts and its surviving mutants into docs/testing.md,
//! between `<!-- mutants:CRATE:begin -->` and `<!-- mutants:CRATE:end -->`;
//! survivors explained in the document's "Equivalent mutants" list are
//! marked so. `--in-diff` runs only the mutants of the code a diff touched
//! and prints the same report without writing it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

/// The crates mutated when none is named.
const DEFAULT_PACKAGES: &[&str] = &["agora-domain", "agora-app"];

/// Where the report goes.
const REPORT: &str = "docs/testing.md";

/// The command line, for `--help` and errors.
pub(crate) const USAGE: &str = "usage: cargo xtask mutants [--package CRATE]... [--in-diff FILE] [--file GLOB]... [--jobs N] [--iterate] [--no-write]

  --package CRATE  mutate CRATE, judged by its own tests (repeatable;
                   default: agora-domain and agora-app)
  --in-diff FILE   only the mutants in code FILE (a unified diff, e.g.
                   `git diff main`) touched; prints the report, writes nothing
  --file GLOB      only the mutants in matching files (repeatable)
  --jobs N         mutants built and tested at once (default 1: the machine
                   is shared; each job is a full build directory)
  --iterate        skip the mutants a previous run of the same crate caught
  --no-write       print the report without writing docs/testing.md

Needs cargo-mutants: cargo install cargo-mutants --locked";

/// What `cargo xtask mutants` was asked to do.
#[derive(Debug, Default)]
pub(crate) struct Options {
    packages: Vec<String>,
    in_diff: Option<PathBuf>,
    files: Vec<String>,
    jobs: u32,
    iterate: bool,
    write: bool,
}

impl Options {
    /// Reads the arguments after `mutants`.
    pub(crate) fn parse(args: impl Iterator<Item = String>) -> Result<Self, String> {
        let mut options = Self {
            jobs: 1,
            write: true,
            ..Self::default()
        };
        let mut args = args.peekable();
        while let Some(arg) = args.next() {
            let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value"));
            match arg.as_str() {
                "--package" | "-p" => options.packages.push(value("--package")?),
                "--in-diff" => options.in_diff = Some(PathBuf::from(value("--in-diff")?)),
                "--file" | "-f" => options.files.push(value("--file")?),
                "--jobs" | "-j" => {
                    let n = value("--jobs")?;
                    options.jobs = n
                        .parse()
                        .ok()
                        .filter(|n| *n > 0)
                        .ok_or_else(|| format!("--jobs takes a positive number, not `{n}`"))?;
                }
                "--iterate" => options.iterate = true,
                "--no-write" => options.write = false,
                other => return Err(format!("unknown argument `{other}`")),
            }
        }
        if options.packages.is_empty() {
            options.packages = DEFAULT_PACKAGES.iter().map(|p| (*p).to_owned()).collect();
        }
        if options.in_diff.is_some() || !options.files.is_empty() {
            // A part of a crate's mutants says nothing of the whole crate.
            options.write = false;
        }
        Ok(options)
    }
}

/// What became of one crate's mutants.
#[derive(Debug, Default)]
struct Outcome {
    caught: Vec<String>,
    missed: Vec<String>,
    timeout: Vec<String>,
    unviable: Vec<String>,
    seconds: u64,
}

impl Outcome {
    fn viable(&self) -> usize {
        self.caught.len() + self.missed.len() + self.timeout.len()
    }

    /// Caught (a hang under the mutant counts: the tests did not pass),
    /// in per mille of the viable ones.
    fn score_per_mille(&self) -> Option<usize> {
        let viable = self.viable();
        (viable > 0).then(|| (self.caught.len() + self.timeout.len()) * 1000 / viable)
    }
}

fn root() -> PathBuf {
    let xtask = Path::new(env!("CARGO_MANIFEST_DIR"));
    xtask.parent().unwrap_or(xtask).to_path_buf()
}

/// Runs cargo-mutants on each crate, then reports.
pub(crate) fn run(options: &Options) -> bool {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let installed = Command::new(&cargo)
        .args(["mutants", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !installed {
        eprintln!("cargo-mutants is not installed: cargo install cargo-mutants --locked");
        return false;
    }
    let root = root();
    let explained = equivalent_mutants(&root.join(REPORT));
    // What is mutated is the tree as it is now: name it before it changes.
    let tree = tree_description(&root, options.iterate);
    let mut all_ok = true;
    let mut reports = Vec::new();
    for package in &options.packages {
        let out = root.join("target/mutants").join(package);
        if let Err(e) = std::fs::create_dir_all(&out) {
            eprintln!("cannot create {}: {e}", out.display());
            return false;
        }
        let mut args: Vec<String> = vec![
            "mutants".into(),
            "--package".into(),
            package.clone(),
            "--profile".into(),
            "mutants".into(),
            "--jobs".into(),
            options.jobs.to_string(),
            "--output".into(),
            out.display().to_string(),
            "--no-shuffle".into(),
            // A hang is a catch; a slow machine is not.
            "--minimum-test-timeout".into(),
            "120".into(),
            // Doc tests build slowly and pin nothing the others do not.
            "--cargo-test-arg=--tests".into(),
        ];
        if let Some(diff) = &options.in_diff {
            args.push("--in-diff".into());
            args.push(diff.display().to_string());
        }
        for file in &options.files {
            args.push("--file".into());
            args.push(file.clone());
        }
        if options.iterate {
            args.push("--iterate".into());
        }
        eprintln!("$ cargo {}", args.join(" "));
        let started = Instant::now();
        let status = Command::new(&cargo).args(&args).current_dir(&root).status();
        // 0: all caught; 2: some missed; 3: some timed out. Anything else
        // (a failing baseline, a usage error) is no result.
        match status.map(|s| s.code()) {
            Ok(Some(0 | 2 | 3)) => {}
            other => {
                eprintln!("cargo mutants on {package} did not complete: {other:?}");
                all_ok = false;
                continue;
            }
        }
        let mut outcome = read_outcome(&out.join("mutants.out"));
        outcome.seconds = started.elapsed().as_secs();
        let block = report(package, &tree, &outcome, &explained);
        eprintln!("{block}");
        reports.push((package.clone(), block));
    }
    if options.write && !reports.is_empty() {
        let path = root.join(REPORT);
        match write_report(&path, &reports) {
            Ok(()) => eprintln!("wrote {}", path.display()),
            Err(e) => {
                eprintln!("cannot write {}: {e}", path.display());
                all_ok = false;
            }
        }
    }
    all_ok
}

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .map(|text| {
            text.lines()
                .filter(|l| !l.trim().is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

fn read_outcome(dir: &Path) -> Outcome {
    // After `--iterate`, what earlier runs caught is listed apart.
    let mut caught = lines(&dir.join("caught.txt"));
    for earlier in lines(&dir.join("previously_caught.txt")) {
        if !caught.contains(&earlier) {
            caught.push(earlier);
        }
    }
    Outcome {
        caught,
        missed: lines(&dir.join("missed.txt")),
        timeout: lines(&dir.join("timeout.txt")),
        unviable: lines(&dir.join("unviable.txt")),
        seconds: 0,
    }
}

/// A mutant's name without its line and column, which move as code
/// changes: `crates/x/src/a.rs: replace f -> bool with true`.
fn stable_name(name: &str) -> String {
    let mut parts = name.splitn(4, ':');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(file), Some(line), Some(col), Some(rest))
            if line.chars().all(|c| c.is_ascii_digit())
                && col.chars().all(|c| c.is_ascii_digit()) =>
        {
            format!("{file}:{rest}")
        }
        _ => name.to_owned(),
    }
}

/// The survivors the report explains, by stable name: the lines
/// ``- `NAME` — why`` of its "Equivalent mutants" section.
fn equivalent_mutants(report: &Path) -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(report).unwrap_or_default();
    text.lines()
        .skip_while(|l| !l.starts_with("## Equivalent mutants"))
        .skip(1)
        .take_while(|l| !l.starts_with("## "))
        .filter_map(|l| {
            let rest = l.strip_prefix("- `")?;
            let (name, why) = rest.split_once('`')?;
            let why = why.trim_start_matches([' ', '—', '-', ':']).trim();
            Some((stable_name(name), why.to_owned()))
        })
        .collect()
}

fn percent(per_mille: Option<usize>) -> String {
    per_mille.map_or_else(|| "–".to_owned(), |p| format!("{}.{}%", p / 10, p % 10))
}

/// The tree a run mutates: its commit, whether it had changes not yet
/// committed, and whether earlier runs' catches are counted.
fn tree_description(root: &Path, iterate: bool) -> String {
    let git = |args: &[&str]| {
        Command::new("git")
            .args(args)
            .current_dir(root)
            .output()
            .ok()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .unwrap_or_default()
    };
    let commit = git(&["rev-parse", "--short", "HEAD"]);
    let dirty = !git(&["status", "--porcelain", "--untracked-files=no"]).is_empty();
    format!(
        "Commit `{commit}`{}{}",
        if dirty {
            " with uncommitted changes"
        } else {
            ""
        },
        if iterate {
            " (with --iterate: what earlier runs caught is counted)"
        } else {
            ""
        }
    )
}

/// The report of one crate, as Markdown.
fn report(package: &str, tree: &str, o: &Outcome, explained: &BTreeMap<String, String>) -> String {
    let total = o.viable() + o.unviable.len();
    let equivalent = o
        .missed
        .iter()
        .filter(|m| explained.contains_key(&stable_name(m)))
        .count();
    let mut out = format!(
        "### {package}\n\n\
         {tree}: {total} mutants, {} min.\n\n\
         | caught | missed | timeout | unviable | caught of viable | missed, explained equivalent |\n\
         |---:|---:|---:|---:|---:|---:|\n\
         | {} | {} | {} | {} | {} | {equivalent} of {} |\n",
        o.seconds.div_ceil(60),
        o.caught.len(),
        o.missed.len(),
        o.timeout.len(),
        o.unviable.len(),
        percent(o.score_per_mille()),
        o.missed.len(),
    );
    if !o.missed.is_empty() {
        out.push_str("\nSurvivors:\n\n");
        for m in &o.missed {
            match explained.get(&stable_name(m)) {
                Some(_) => out.push_str(&format!("- `{m}` (equivalent, see below)\n")),
                None => out.push_str(&format!("- `{m}`\n")),
            }
        }
    }
    if !o.timeout.is_empty() {
        out.push_str("\nTimed out (the tests hung: counted as caught):\n\n");
        for m in &o.timeout {
            out.push_str(&format!("- `{m}`\n"));
        }
    }
    out
}

/// Replaces each crate's block in the report (or appends it).
fn write_report(path: &Path, reports: &[(String, String)]) -> std::io::Result<()> {
    let mut text = std::fs::read_to_string(path)?;
    for (package, block) in reports {
        let begin = format!("<!-- mutants:{package}:begin -->");
        let end = format!("<!-- mutants:{package}:end -->");
        let fresh = format!("{begin}\n{block}{end}");
        match (text.find(&begin), text.find(&end)) {
            (Some(b), Some(e)) if b < e => text.replace_range(b..e + end.len(), &fresh),
            _ => {
                text.push('\n');
                text.push_str(&fresh);
                text.push('\n');
            }
        }
    }
    std::fs::write(path, text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_lose_their_place_only() {
        assert_eq!(
            stable_name("crates/a/src/b.rs:12:5: replace f -> bool with true"),
            "crates/a/src/b.rs: replace f -> bool with true"
        );
        assert_eq!(stable_name("no place"), "no place");
    }

    #[test]
    fn the_score_counts_hangs_as_caught_and_ignores_unviable() {
        let o = Outcome {
            caught: vec!["a".into(); 8],
            missed: vec!["b".into()],
            timeout: vec!["c".into()],
            unviable: vec!["d".into(); 5],
            seconds: 0,
        };
        assert_eq!(o.score_per_mille(), Some(900));
        assert_eq!(percent(o.score_per_mille()), "90.0%");
        assert_eq!(Outcome::default().score_per_mille(), None);
    }

    #[test]
    fn options_default_to_both_crates_and_a_part_is_not_written() {
        let o = Options::parse(std::iter::empty()).unwrap();
        assert_eq!(o.packages, ["agora-domain", "agora-app"]);
        assert!(o.write && o.jobs == 1);
        let o = Options::parse(
            ["-p", "agora-domain", "--in-diff", "x.diff", "-j", "2"]
                .into_iter()
                .map(String::from),
        )
        .unwrap();
        assert_eq!(o.packages, ["agora-domain"]);
        assert!(!o.write && o.jobs == 2);
        assert!(Options::parse(["--jobs", "0"].into_iter().map(String::from)).is_err());
        assert!(Options::parse(["--bogus"].into_iter().map(String::from)).is_err());
    }
}
