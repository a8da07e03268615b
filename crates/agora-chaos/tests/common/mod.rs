//! What a reduced chaos run must show, on either store.

use agora_chaos::events::OpKind;
use agora_chaos::{ChaosConfig, StoreKind, report};

/// Runs the reduced run on `store` and checks it: the kill done, the
/// faults near their rate, every use case driven, nothing lost, nothing
/// duplicated, every doubt resolved, nothing left to send.
pub(crate) fn reduced_run_holds(store: StoreKind) {
    let mut config = ChaosConfig::reduced(env!("CARGO_BIN_EXE_agora-chaos"));
    config.store = store;
    // The harness's own failure (no PostgreSQL server, say) says why.
    let run = agora_chaos::run(&config).unwrap_or_else(|why| panic!("{why}"));
    let table = report::text(&run, &config);
    assert!(run.crashes.is_empty(), "{table}");
    assert_eq!(run.kills, 1, "{table}");
    assert!(run.total_operations() >= 500, "{table}");
    // The faults were there, near their rate.
    assert!(run.faults.total() * 100 >= run.faults.calls * 12, "{table}");
    // Every kind a worker drives (resolving doubts is the operator's).
    for kind in OpKind::ALL.into_iter().filter(|k| *k != OpKind::Resolve) {
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
