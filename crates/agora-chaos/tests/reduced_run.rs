//! The reduced chaos run, part of `cargo test --workspace`: 500 operations
//! of every use case by 2 worker processes on one store file, 20% of
//! AgoraPlus calls faulted, one worker killed with SIGKILL (on its
//! progress events) and restarted. The simulator and the store must agree:
//! nothing lost, nothing duplicated, every doubt resolved by the operator
//! path, nothing left to send.

use agora_chaos::events::OpKind;
use agora_chaos::{ChaosConfig, report};

#[test]
fn a_reduced_chaos_run_loses_nothing_and_duplicates_nothing() {
    let config = ChaosConfig::reduced(env!("CARGO_BIN_EXE_agora-chaos"));
    let run = agora_chaos::run(&config).unwrap();
    let table = report::text(&run, &config);
    assert!(run.crashes.is_empty(), "{table}");
    assert_eq!(run.kills, 1, "{table}");
    assert!(run.total_operations() >= 500, "{table}");
    // The faults were there, near their rate.
    assert!(run.faults.total() * 100 >= run.faults.calls * 12, "{table}");
    for kind in [
        OpKind::WorkOrders,
        OpKind::UpdateFile,
        OpKind::ReportStatus,
        OpKind::OrderParts,
        OpKind::TrackOrders,
        OpKind::CreateClaim,
        OpKind::CorrectClaim,
        OpKind::OemDecision,
        OpKind::RegisterInvoice,
        OpKind::Flush,
    ] {
        assert!(
            run.operations.contains_key(&kind),
            "no {kind:?} in\n{table}"
        );
    }
    assert!(run.after.delivered > 0, "{table}");
    assert_eq!(run.before.lost, Vec::<String>::new(), "{table}");
    assert_eq!(run.before.duplicates, Vec::<String>::new(), "{table}");
    assert_eq!(run.after.lost, Vec::<String>::new(), "{table}");
    assert_eq!(run.after.duplicates, Vec::<String>::new(), "{table}");
    assert!(run.unresolved.is_empty(), "{table}");
    assert!(run.after.in_doubt.is_empty(), "{table}");
    assert!(run.after.open.is_empty(), "{table}");
    assert!(run.passed(config.kills), "{table}");
}
