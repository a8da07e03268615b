//! Output: readable tables for people, `--json` for scripts. Data on
//! stdout; progress and logs on stderr. Nothing here panics on a closed
//! pipe: once stdout's reader has gone (`agora --json repairs list | head`),
//! the rest of the output is dropped and the command ends as it would have.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

use agora_app::Warning;
use comfy_table::{ContentArrangement, Table};
use serde::Serialize;

/// Where results go.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Out {
    /// `--json`: results (and errors) as JSON.
    pub json: bool,
    /// `-q`: no warnings or progress on stderr, only errors.
    pub quiet: bool,
}

impl Out {
    /// Prints a table (or, with `--json`, `value`).
    pub(crate) fn table<T: Serialize>(self, headers: &[&str], rows: Vec<Vec<String>>, value: &T) {
        if self.json {
            self.json(value);
            return;
        }
        let mut table = Table::new();
        table.load_preset(comfy_table::presets::UTF8_BORDERS_ONLY);
        table.set_content_arrangement(ContentArrangement::Dynamic);
        table.set_header(headers.iter().copied());
        for row in rows {
            table.add_row(row);
        }
        self.line(&table.to_string());
    }

    /// Prints a JSON value.
    pub(crate) fn json<T: Serialize>(self, value: &T) {
        match serde_json::to_string_pretty(value) {
            Ok(text) => self.line(&text),
            Err(e) => {
                let message = format!("cannot encode the output: {e}");
                crate::failure::Failure::new("encode", message, crate::failure::code::REFUSED)
                    .print(self);
            }
        }
    }

    /// Prints a line (human output), or with `--json` the value.
    pub(crate) fn say<T: Serialize>(self, text: &str, value: &T) {
        if self.json {
            self.json(value);
        } else {
            self.line(text);
        }
    }

    /// Prints AgoraPlus's warnings on stderr, one line each, whatever the
    /// output format (a `--json` result carries them too where it is an
    /// object); none with `-q`.
    pub(crate) fn warnings(self, warnings: &[Warning]) {
        for w in warnings {
            self.note(format_args!("warning: {w}"));
        }
    }

    /// Prints a line on stderr that is not an error (a warning, where a
    /// server is listening), unless `-q`.
    pub(crate) fn note(self, line: std::fmt::Arguments<'_>) {
        if !self.quiet {
            eprint(line);
        }
    }

    /// Whether to show progress bars on stderr: not with `--json` or `-q`.
    pub(crate) fn progress(self) -> bool {
        !self.json && !self.quiet
    }

    /// Prints a line on stdout, through a locked handle. A closed pipe
    /// ends the output quietly; another failure (a full disk) is said once
    /// and makes a successful run exit 1 (see [`write_failed`]).
    pub(crate) fn line(self, text: &str) {
        self.write(&[text.as_bytes(), b"\n"]);
    }

    /// Writes bytes on stdout as they are (a generated file), as
    /// [`Out::line`] does.
    pub(crate) fn bytes(self, bytes: &[u8]) {
        self.write(&[bytes]);
    }

    fn write(self, parts: &[&[u8]]) {
        if STDOUT_GONE.load(Ordering::Relaxed) {
            return;
        }
        let mut stdout = std::io::stdout().lock();
        let written = parts
            .iter()
            .try_for_each(|part| stdout.write_all(part))
            .and_then(|()| stdout.flush());
        drop(stdout);
        if let Err(e) = written {
            STDOUT_GONE.store(true, Ordering::Relaxed);
            if e.kind() != std::io::ErrorKind::BrokenPipe {
                STDOUT_FAILED.store(true, Ordering::Relaxed);
                let message = format!("cannot write the output: {e}");
                crate::failure::Failure::new("output", message, crate::failure::code::REFUSED)
                    .print(self);
            }
        }
    }
}

/// Set once stdout could not be written: nothing more is written to it.
static STDOUT_GONE: AtomicBool = AtomicBool::new(false);

/// Set when writing stdout failed otherwise than by a closed pipe.
static STDOUT_FAILED: AtomicBool = AtomicBool::new(false);

/// Whether writing stdout failed otherwise than by a closed pipe (the
/// output is then incomplete and a successful run exits 1).
pub(crate) fn write_failed() -> bool {
    STDOUT_FAILED.load(Ordering::Relaxed)
}

/// Writes a line on stderr (errors, warnings, progress). A failure to
/// write it is ignored: there is nowhere left to say it, and `eprintln!`
/// would panic.
pub(crate) fn eprint(line: std::fmt::Arguments<'_>) {
    let mut stderr = std::io::stderr().lock();
    let _ = stderr
        .write_fmt(line)
        .and_then(|()| stderr.write_all(b"\n"));
}

/// A cell from an option.
pub(crate) fn cell<T: std::fmt::Display>(v: Option<T>) -> String {
    v.map_or_else(|| "-".to_owned(), |v| v.to_string())
}

/// Warnings as JSON strings, one per warning.
pub(crate) fn warning_lines(warnings: &[Warning]) -> Vec<String> {
    warnings.iter().map(ToString::to_string).collect()
}
