//! `agora completions` and `agora __man` (read before clap, hidden): shell completions and
//! the man page, generated from the command line's own definition (so they
//! say what `--help` says).

use std::path::Path;
use std::process::ExitCode;

use clap::{Args, CommandFactory};
use clap_complete::Shell;

use crate::Cli;
use crate::failure::{Failure, code};
use crate::output::Out;

#[derive(Debug, Args)]
pub(crate) struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    pub shell: Shell,
}

/// Prints the completion script of a shell on stdout.
pub(super) fn completions(args: &CompletionsArgs, out: Out) -> ExitCode {
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut Cli::command(), "agora", &mut script);
    out.bytes(&script);
    ExitCode::SUCCESS
}

/// Writes the man pages (roff) into `dir`: agora.1 and one page per
/// subcommand (agora-status-report.1, …), which agora.1 refers to.
pub(crate) fn man(dir: &Path, out: Out) -> ExitCode {
    match write_pages(dir) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let failure = Failure::new(
                "man",
                format!("cannot write the man pages into {}: {e}", dir.display()),
                code::REFUSED,
            );
            ExitCode::from(failure.print(out))
        }
    }
}

fn write_pages(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let mut command = Cli::command().disable_help_subcommand(true);
    command.build();
    clap_mangen::generate_to(command.clone(), dir)?;
    // agora.1 again, with the settings and exit codes of `--help` kept in
    // their columns (clap_mangen would fill them into paragraphs).
    let man = clap_mangen::Man::new(command.clone());
    let mut page = Vec::new();
    man.render_title(&mut page)?;
    man.render_name_section(&mut page)?;
    man.render_synopsis_section(&mut page)?;
    man.render_description_section(&mut page)?;
    man.render_options_section(&mut page)?;
    man.render_subcommands_section(&mut page)?;
    if let Some(text) = command.get_after_help() {
        page.extend_from_slice(b".SH \"SETTINGS AND EXIT STATUS\"\n.nf\n");
        for line in text.to_string().lines() {
            page.extend_from_slice(roff_line(line).as_bytes());
            page.push(b'\n');
        }
        page.extend_from_slice(b".fi\n");
    }
    man.render_version_section(&mut page)?;
    std::fs::write(dir.join("agora.1"), page)
}

/// A line of text as roff: backslashes and hyphens escaped, and a line
/// that would read as a request (`.`, `'`) guarded.
fn roff_line(line: &str) -> String {
    let escaped = line.replace('\\', "\\e").replace('-', "\\-");
    if escaped.starts_with(['.', '\'']) {
        format!("\\&{escaped}")
    } else {
        escaped
    }
}
