//! `cargo xtask deps`: fails on a dependency a package declares and its
//! code never names. Each member's `[dependencies]` must be named in its
//! `src/` (or `build.rs`); its `[dev-dependencies]` in `tests/`,
//! `benches/`, `examples/` or `src/`. A dependency declared only for what
//! it brings (a feature of another crate, a binary's runtime) says so in a
//! comment on the line above containing `not named in code`.

use std::path::{Path, PathBuf};

/// A dependency as declared, with where it must be named.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Declared {
    /// The name code uses (`-` as `_`).
    pub(crate) name: String,
    /// From `[dev-dependencies]`.
    pub(crate) dev: bool,
}

/// The dependencies of a manifest, leaving out those marked as not named
/// in code.
pub(crate) fn declared(manifest: &str) -> Vec<Declared> {
    let mut out = Vec::new();
    let mut section = "";
    let mut excused = false;
    for line in manifest.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            section = match line {
                "[dependencies]" => "normal",
                "[dev-dependencies]" => "dev",
                "[build-dependencies]" => "build",
                _ => "",
            };
            excused = false;
            continue;
        }
        if line.starts_with('#') {
            excused |= line.contains("not named in code");
            continue;
        }
        if section.is_empty() || line.is_empty() {
            excused = false;
            continue;
        }
        let Some(key) = line.split(['=', '.', ' ']).next().filter(|k| !k.is_empty()) else {
            continue;
        };
        // `name = { package = "other", … }` is named by its key.
        if !excused && section != "build" {
            out.push(Declared {
                name: key.replace('-', "_"),
                dev: section == "dev",
            });
        }
        excused = false;
    }
    out
}

/// Whether `name` appears in `text` as a whole identifier.
pub(crate) fn names(text: &str, name: &str) -> bool {
    let is_ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
    text.match_indices(name).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + name.len()..].chars().next();
        !before.is_some_and(is_ident) && !after.is_some_and(is_ident)
    })
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn text_of(package: &Path, dirs: &[&str]) -> String {
    let mut files = Vec::new();
    for dir in dirs {
        rust_files(&package.join(dir), &mut files);
    }
    let build = package.join("build.rs");
    if build.is_file() {
        files.push(build);
    }
    files
        .iter()
        .filter_map(|f| std::fs::read_to_string(f).ok())
        .collect::<Vec<_>>()
        .join("\n")
}

/// The members' directories: `crates/*`, `xtask`, `tests`.
fn members(root: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(root.join("crates"))
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("Cargo.toml").is_file())
        .collect();
    out.push(root.join("xtask"));
    out.push(root.join("tests"));
    out.sort();
    out
}

/// Prints each dependency declared and not named; true when there is none.
pub(crate) fn check(root: &Path) -> bool {
    let mut unused = Vec::new();
    for package in members(root) {
        let Ok(manifest) = std::fs::read_to_string(package.join("Cargo.toml")) else {
            continue;
        };
        let code = text_of(&package, &["src"]);
        let dev_code = text_of(&package, &["src", "tests", "benches", "examples"]);
        for dep in declared(&manifest) {
            let text = if dep.dev { &dev_code } else { &code };
            if !names(text, &dep.name) {
                unused.push(format!(
                    "{}: {}{} is declared but never named in its code",
                    package.strip_prefix(root).unwrap_or(&package).display(),
                    dep.name,
                    if dep.dev { " (dev)" } else { "" }
                ));
            }
        }
    }
    for line in &unused {
        eprintln!("unused dependency: {line}");
    }
    if unused.is_empty() {
        eprintln!("every declared dependency is named in its package's code");
    }
    unused.is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dependencies_are_read_by_section_and_excused_by_comment() {
        let manifest = r#"
[package]
name = "x"

[dependencies]
agora-domain.workspace = true
serde = { workspace = true }
# Only its TLS feature: not named in code.
rustls.workspace = true
tokio = "1"

[dev-dependencies]
tempfile.workspace = true

[build-dependencies]
cc = "1"

[lints]
workspace = true
"#;
        let got: Vec<(String, bool)> = declared(manifest)
            .into_iter()
            .map(|d| (d.name, d.dev))
            .collect();
        assert_eq!(
            got,
            vec![
                ("agora_domain".to_owned(), false),
                ("serde".to_owned(), false),
                ("tokio".to_owned(), false),
                ("tempfile".to_owned(), true),
            ]
        );
    }

    #[test]
    fn a_name_counts_only_as_a_whole_identifier() {
        assert!(names("use serde::Deserialize;", "serde"));
        assert!(names("#[serde(rename = \"X\")]", "serde"));
        assert!(!names("use serde_json::Value;", "serde"));
        assert!(!names("let my_serde = 1;", "serde"));
        assert!(names("agora_domain::Lcid", "agora_domain"));
    }
}
