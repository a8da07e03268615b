//! What a reduced chaos run must show, on either store.

use agora_chaos::events::OpKind;
use std::sync::Mutex;

use agora_chaos::events::Point;
use agora_chaos::harness::FaultKind;
use agora_chaos::{ChaosConfig, StoreKind, report};

/// Runs the reduced run on `store` and checks it: the kill done, the
/// faults near their rate, every use case driven, nothing lost, nothing
/// duplicated, every doubt resolved, nothing left to send.
/// One run at a time in a test binary: each run starts worker processes
/// and times leases, pauses and holds; two at once on a small machine
/// would measure the machine.
static ONE_RUN_AT_A_TIME: Mutex<()> = Mutex::new(());

#[allow(dead_code)]
pub(crate) fn reduced_run_holds(store: StoreKind) {
    let _turn = ONE_RUN_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
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
    assert!(run.after.journaled > 0, "{table}");
    assert_eq!(
        run.after.journal_duplicates,
        Vec::<String>::new(),
        "{table}"
    );
    assert_eq!(run.after.differing, Vec::<String>::new(), "{table}");
    assert_eq!(run.before.lost, Vec::<String>::new(), "{table}");
    assert_eq!(run.before.duplicates, Vec::<String>::new(), "{table}");
    assert_eq!(run.after.lost, Vec::<String>::new(), "{table}");
    assert_eq!(run.after.duplicates, Vec::<String>::new(), "{table}");
    assert!(run.unresolved.is_empty(), "{table}");
    assert!(run.after.in_doubt.is_empty(), "{table}");
    assert!(run.after.open.is_empty(), "{table}");
    assert!(run.passed(config.kills + config.point_kills), "{table}");
}

/// Runs the reduced run of one fault kind on `store` and checks it: the
/// fault injected as asked, then nothing lost, nothing duplicated (by the
/// simulator's request journal, its guards against re-sends off), every
/// file equal field by field, every doubt settled.
#[allow(dead_code)]
pub(crate) fn fault_run_holds(store: StoreKind, kind: FaultKind) {
    let _turn = ONE_RUN_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let mut config = ChaosConfig::only(env!("CARGO_BIN_EXE_agora-chaos"), kind);
    config.store = store;
    let run = agora_chaos::run(&config).unwrap_or_else(|why| panic!("{why}"));
    let table = report::text(&run, &config);
    assert!(run.crashes.is_empty(), "{table}");
    assert!(run.total_operations() >= config.operations, "{table}");
    match kind {
        FaultKind::StoreOutage => assert_eq!(run.outages, config.outages, "{table}"),
        FaultKind::Pause => assert_eq!(run.pauses, config.pauses, "{table}"),
        FaultKind::ClockSkew => assert_eq!(run.skewed_workers, 1, "{table}"),
        FaultKind::Hold => assert!(run.faults.held > 0, "{table}"),
        FaultKind::PointKills => {
            for p in Point::ALL {
                assert_eq!(run.point_kills.get(&p), Some(&1), "{p:?}\n{table}");
            }
            assert_eq!(run.kills, Point::ALL.len(), "{table}");
        }
    }
    assert!(run.after.journaled > 0, "{table}");
    assert_eq!(
        run.after.journal_duplicates,
        Vec::<String>::new(),
        "{table}"
    );
    assert_eq!(run.after.duplicates, Vec::<String>::new(), "{table}");
    assert_eq!(run.after.differing, Vec::<String>::new(), "{table}");
    assert_eq!(run.before.lost, Vec::<String>::new(), "{table}");
    assert_eq!(run.after.lost, Vec::<String>::new(), "{table}");
    assert!(run.unresolved.is_empty(), "{table}");
    assert!(run.after.in_doubt.is_empty(), "{table}");
    assert!(run.after.open.is_empty(), "{table}");
    assert!(run.passed(config.kills + config.point_kills), "{table}");
}
