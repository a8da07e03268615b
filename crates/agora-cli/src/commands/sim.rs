//! `agora sim`: serving the AgoraPlus simulator until a signal, with the
//! flags, configuration and exit codes of the `agora-sim` binary
//! (`agora_sim::options`).

use std::process::ExitCode;

use crate::failure::Failure;
use crate::output::Out;

/// The simulator's own options.
pub(crate) type SimArgs = agora_sim::options::SimOptions;

pub(super) async fn run(args: SimArgs, out: Out) -> ExitCode {
    let served = args
        .serve(|url, accounts| {
            out.line(url);
            out.note(format_args!("agora sim: {}", args.banner(accounts)));
        })
        .await;
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let failure = Failure::new(e.kind(), e.to_string(), e.exit_code());
            ExitCode::from(failure.print(out))
        }
    }
}
