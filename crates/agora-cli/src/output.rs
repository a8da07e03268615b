//! Output: readable tables for people, `--json` for scripts. Data on
//! stdout; progress and logs on stderr. Nothing here panics on a closed
//! pipe: once stdout's reader has gone (`agora --json repairs list | head`),
//! the rest of the output is dropped and the command ends as it would have.

use std::borrow::Cow;
use std::io::Write;
use std::sync::OnceLock;
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

/// A command's result, one typed value: shown to people as a line and/or
/// a table ([`Render::human`]), to scripts as JSON (its `Serialize`, with
/// the wire's keys for wire data). Both come from the same value.
pub(crate) trait Render: Serialize {
    /// How people read it.
    fn human(&self) -> Human;
}

/// A result as people read it: a line, then a table, either optional.
#[derive(Debug, Default)]
pub(crate) struct Human {
    /// A sentence.
    pub line: Option<String>,
    /// A table, after the line.
    pub table: Option<Grid>,
}

impl Human {
    /// One line.
    pub(crate) fn line(text: impl Into<String>) -> Self {
        Self {
            line: Some(text.into()),
            table: None,
        }
    }

    /// One table.
    pub(crate) fn table(grid: Grid) -> Self {
        Self {
            line: None,
            table: Some(grid),
        }
    }
}

/// A table's headers and rows.
#[derive(Debug)]
pub(crate) struct Grid {
    /// The column headers.
    pub headers: &'static [&'static str],
    /// The rows, one cell per header.
    pub rows: Vec<Vec<String>>,
}

impl Grid {
    /// The table of rows of one kind.
    pub(crate) fn of<T: Row>(items: &[T]) -> Self {
        Self {
            headers: T::HEADERS,
            rows: items.iter().map(Row::cells).collect(),
        }
    }
}

/// One row of a table: its JSON is the item's, its cells the columns.
pub(crate) trait Row: Serialize {
    /// The column headers.
    const HEADERS: &'static [&'static str];
    /// The cells, one per header.
    fn cells(&self) -> Vec<String>;
}

/// A list: a table for people, a JSON array for scripts.
#[derive(Debug, Serialize)]
#[serde(transparent)]
pub(crate) struct List<T>(pub Vec<T>);

impl<T: Row> Render for List<T> {
    fn human(&self) -> Human {
        Human::table(Grid::of(&self.0))
    }
}

impl Out {
    /// Prints a command's result: as JSON with `--json`, else as people
    /// read it.
    pub(crate) fn show<R: Render>(self, result: &R) {
        if self.json {
            self.json(result);
            return;
        }
        let human = result.human();
        if let Some(line) = &human.line {
            self.line(line);
        }
        if let Some(grid) = &human.table {
            self.grid(grid);
        }
    }

    /// Prints a table, its cells wrapped to fit the width of the
    /// terminal (see [`width`]).
    pub(crate) fn grid(self, grid: &Grid) {
        let mut table = Table::new();
        table.load_preset(comfy_table::presets::UTF8_BORDERS_ONLY);
        table.set_content_arrangement(ContentArrangement::Dynamic);
        if let Some(width) = width() {
            table.set_width(width);
        }
        table.set_header(grid.headers.iter().copied());
        // Each cell is masked before the table wraps it: a key cut across
        // two lines of a wrapped cell would no longer be one text.
        for row in &grid.rows {
            table.add_row(row.iter().map(|c| masked(c).into_owned()));
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
        self.write(&[masked(text).as_bytes(), b"\n"]);
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

/// The width tables fit in: `COLUMNS` when set, else the terminal's when
/// stdout is one; none when it is a pipe or a file (rows stay whole there,
/// one per line, for grep and friends).
fn width() -> Option<u16> {
    std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.trim().parse::<u16>().ok())
        .filter(|c| *c > 0)
        .or_else(|| console::Term::stdout().size_checked().map(|(_, cols)| cols))
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
    let text = line.to_string();
    let mut stderr = std::io::stderr().lock();
    let _ = stderr
        .write_all(masked(&text).as_bytes())
        .and_then(|()| stderr.write_all(b"\n"));
}

/// The api_key, once the settings named it: taken out of every line
/// agora prints.
static SECRET: OnceLock<String> = OnceLock::new();

/// Takes `secret` out of every line printed from now on (stdout, stderr,
/// logs): the one redaction of `agora_domain::redact`, in every form a
/// server may echo it. The first call wins.
pub(crate) fn hide(secret: &str) {
    if !secret.is_empty() {
        let _ = SECRET.set(secret.to_owned());
    }
}

/// `text` without the secret [`hide`] was given.
pub(crate) fn masked(text: &str) -> Cow<'_, str> {
    match SECRET.get() {
        Some(secret) => match agora_domain::redact::redact(text, secret) {
            redacted if redacted == text => Cow::Borrowed(text),
            redacted => Cow::Owned(redacted),
        },
        None => Cow::Borrowed(text),
    }
}

/// Stderr for the logs, each write with the secret taken out.
pub(crate) struct MaskedStderr;

impl Write for MaskedStderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        std::io::stderr().write_all(masked(&text).as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

/// A cell from an option.
pub(crate) fn cell<T: std::fmt::Display>(v: Option<T>) -> String {
    v.map_or_else(|| "-".to_owned(), |v| v.to_string())
}

/// Warnings as JSON strings, one per warning.
pub(crate) fn warning_lines(warnings: &[Warning]) -> Vec<String> {
    warnings.iter().map(ToString::to_string).collect()
}
