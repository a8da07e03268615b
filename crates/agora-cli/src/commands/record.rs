//! `agora record`: the recording proxy (`agora_sim::record`) until a
//! signal: forwards each call to an upstream AgoraPlus and writes each
//! exchange to a file, the key masked and personal data faked.

use std::process::ExitCode;
use std::sync::Arc;

use agora_ports::{Clock, SystemClock};

use crate::failure::Failure;
use crate::output::Out;

/// The recorder's own options.
pub(crate) type RecordArgs = agora_sim::record::RecordOptions;

pub(super) async fn run(args: RecordArgs, out: Out) -> ExitCode {
    let now: agora_sim::record::Now = Arc::new(|| SystemClock.now());
    let served = args
        .serve(now, |url| {
            out.line(url);
            out.note(format_args!(
                "agora record: forwarding to {} and writing each exchange to {}; Ctrl-C to stop",
                args.upstream,
                args.out.display()
            ));
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
