//! Output: readable tables for people, `--json` for scripts. Data on
//! stdout; progress and logs on stderr.

use agora_app::Warning;
use comfy_table::{ContentArrangement, Table};
use serde::Serialize;

/// Where results go.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Out {
    pub json: bool,
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
    /// object).
    pub(crate) fn warnings(self, warnings: &[Warning]) {
        for w in warnings {
            eprintln!("warning: {w}");
        }
    }

    /// Prints a line on stdout.
    #[allow(clippy::print_stdout)]
    pub(crate) fn line(self, text: &str) {
        println!("{text}");
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
