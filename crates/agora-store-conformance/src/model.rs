//! The outbox against a reference model: random interleavings of two
//! dispatchers (claims, outcomes, crashes), the clock, recovery and a
//! person's settlements; after every step the store's states must equal
//! the model's.

use agora_domain::InterventionId;
use std::collections::BTreeMap;

use agora_ports::{Attempt, Operation, OperationAnswer, Outbox, OutboxState, Settlement};
use proptest::prelude::*;

use crate::{Harness, States, lease, t};

#[derive(Debug, Clone)]
enum Action {
    Enqueue { file: i64, order: bool },
    Claim { worker: usize },
    Finish { worker: usize, outcome: u8 },
    Crash { worker: usize },
    Advance { secs: i64 },
    Recover,
    Settle { pick: usize, how: u8 },
}

fn action() -> impl Strategy<Value = Action> {
    prop_oneof![
        3 => (0..3i64, any::<bool>()).prop_map(|(file, order)| Action::Enqueue { file, order }),
        3 => (0..2usize).prop_map(|worker| Action::Claim { worker }),
        3 => (0..2usize, 0..4u8).prop_map(|(worker, outcome)| Action::Finish { worker, outcome }),
        1 => (0..2usize).prop_map(|worker| Action::Crash { worker }),
        2 => (1..15i64).prop_map(|secs| Action::Advance { secs }),
        1 => Just(Action::Recover),
        2 => (0..8usize, 0..3u8).prop_map(|(pick, how)| Action::Settle { pick, how }),
    ]
}

/// What the model knows of an entry.
#[derive(Debug, Clone)]
struct Entry {
    file: i64,
    idempotent: bool,
    key: Option<String>,
    state: OutboxState,
    owner: Option<usize>,
    lease_until: i64,
    next_at: i64,
}

#[derive(Debug, Default)]
struct Model {
    now: i64,
    entries: BTreeMap<u64, Entry>,
    /// What each worker believes it holds.
    holding: [Option<u64>; 2],
}

const LEASE: i64 = 10;

impl Model {
    fn open_key(&self, key: &str, except: Option<u64>) -> bool {
        self.entries.iter().any(|(id, e)| {
            Some(*id) != except
                && e.key.as_deref() == Some(key)
                && matches!(
                    e.state,
                    OutboxState::Pending | OutboxState::Sending | OutboxState::InDoubt
                )
        })
    }

    fn next_due(&self) -> Option<u64> {
        self.entries
            .iter()
            .find(|(id, e)| {
                e.state == OutboxState::Pending
                    && e.next_at <= self.now
                    && !self.entries.iter().any(|(other, o)| {
                        other < id
                            && o.file == e.file
                            && matches!(o.state, OutboxState::Pending | OutboxState::Sending)
                    })
            })
            .map(|(id, _)| *id)
    }

    fn states(&self) -> States {
        self.entries.iter().map(|(id, e)| (*id, e.state)).collect()
    }
}

fn outcome(code: u8, now: i64) -> Attempt {
    match code {
        0 => Attempt::Delivered(OperationAnswer::Ordered(vec![])),
        1 => Attempt::Retry {
            at: t(now + 5),
            error: "503".into(),
        },
        2 => Attempt::InDoubt("timeout".into()),
        _ => Attempt::Failed("refused".into()),
    }
}

async fn run_case<S: Outbox>(store: &S, actions: &[Action]) -> Result<(), TestCaseError> {
    let mut m = Model::default();
    for (step, action) in actions.iter().enumerate() {
        match action {
            Action::Enqueue { file, order } => {
                let op = if *order {
                    Operation::PlaceOrder(InterventionId(*file))
                } else {
                    Operation::UpdateRepair(agora_domain::CompleteRepairState::default())
                };
                let key = op.exclusive_key(Some(InterventionId(*file)));
                let got = store
                    .enqueue(Some(InterventionId(*file)), &op, t(m.now))
                    .await;
                if key.as_deref().is_some_and(|k| m.open_key(k, None)) {
                    prop_assert!(
                        got.is_err(),
                        "step {step}: a second open {key:?} was accepted"
                    );
                } else {
                    let id = got.map_err(|e| TestCaseError::fail(format!("step {step}: {e}")))?;
                    m.entries.insert(
                        id,
                        Entry {
                            file: *file,
                            idempotent: op.is_idempotent(),
                            key,
                            state: OutboxState::Pending,
                            owner: None,
                            lease_until: 0,
                            next_at: m.now,
                        },
                    );
                }
            }
            Action::Claim { worker } => {
                if m.holding[*worker].is_some() {
                    continue;
                }
                let owner = format!("w{worker}");
                let got = store
                    .claim_due(t(m.now), &lease(&owner, m.now + LEASE), 1)
                    .await
                    .map_err(|e| TestCaseError::fail(e.to_string()))?;
                let expected = m.next_due();
                prop_assert_eq!(got.first().map(|e| e.id), expected, "step {}: claim", step);
                if let Some(id) = expected {
                    let e = m
                        .entries
                        .get_mut(&id)
                        .ok_or_else(|| TestCaseError::fail("model"))?;
                    e.state = OutboxState::Sending;
                    e.owner = Some(*worker);
                    e.lease_until = m.now + LEASE;
                    m.holding[*worker] = Some(id);
                }
            }
            Action::Finish {
                worker,
                outcome: code,
            } => {
                let Some(id) = m.holding[*worker].take() else {
                    continue;
                };
                let attempt = outcome(*code, m.now);
                let got = store
                    .finish(id, &format!("w{worker}"), &attempt, t(m.now))
                    .await
                    .map_err(|e| TestCaseError::fail(e.to_string()))?;
                let e = m
                    .entries
                    .get_mut(&id)
                    .ok_or_else(|| TestCaseError::fail("model"))?;
                let held = e.state == OutboxState::Sending && e.owner == Some(*worker);
                let late =
                    *code == 0 && matches!(e.state, OutboxState::Pending | OutboxState::InDoubt);
                prop_assert_eq!(got, held || late, "step {}: finish by its holder", step);
                if held || late {
                    e.owner = None;
                    e.state = match code {
                        0 => OutboxState::Delivered,
                        1 => {
                            e.next_at = m.now + 5;
                            OutboxState::Pending
                        }
                        2 => OutboxState::InDoubt,
                        _ => OutboxState::Failed,
                    };
                }
            }
            Action::Crash { worker } => m.holding[*worker] = None,
            Action::Advance { secs } => m.now += secs,
            Action::Recover => {
                let mut parked = store
                    .recover_expired(t(m.now))
                    .await
                    .map_err(|e| TestCaseError::fail(e.to_string()))?;
                parked.sort_unstable();
                let mut expected = Vec::new();
                for (id, e) in &mut m.entries {
                    if e.state == OutboxState::Sending && e.lease_until <= m.now {
                        e.owner = None;
                        if e.idempotent {
                            e.state = OutboxState::Pending;
                        } else {
                            e.state = OutboxState::InDoubt;
                            expected.push(*id);
                        }
                    }
                }
                prop_assert_eq!(parked, expected, "step {}: recovery", step);
            }
            Action::Settle { pick, how } => {
                let Some(id) = m.entries.keys().nth(*pick).copied() else {
                    continue;
                };
                let settlement = match how {
                    0 => Settlement::Resend,
                    1 => Settlement::Abandon,
                    _ => Settlement::Applied(OperationAnswer::Ordered(vec![])),
                };
                let got = store.settle(id, &settlement, t(m.now)).await;
                let e = m.entries[&id].clone();
                let settleable = matches!(e.state, OutboxState::InDoubt | OutboxState::Failed);
                let blocked =
                    *how == 0 && e.key.as_deref().is_some_and(|k| m.open_key(k, Some(id)));
                if !settleable || blocked {
                    prop_assert!(got.is_err(), "step {}: settled {:?}", step, e.state);
                } else {
                    let state =
                        got.map_err(|e| TestCaseError::fail(format!("step {step}: {e}")))?;
                    let next = match how {
                        0 => OutboxState::Pending,
                        1 => OutboxState::Failed,
                        _ => OutboxState::Delivered,
                    };
                    prop_assert_eq!(state, next);
                    let entry = m
                        .entries
                        .get_mut(&id)
                        .ok_or_else(|| TestCaseError::fail("model"))?;
                    entry.state = next;
                    if *how == 0 {
                        entry.next_at = m.now;
                    }
                }
            }
        }
        let mut actual = States::new();
        for id in m.entries.keys() {
            let e = store
                .entry(*id)
                .await
                .map_err(|e| TestCaseError::fail(e.to_string()))?
                .ok_or_else(|| TestCaseError::fail(format!("entry {id} vanished")))?;
            actual.insert(*id, e.state);
        }
        prop_assert_eq!(actual, m.states(), "step {}: after {:?}", step, action);
    }
    Ok(())
}

/// Random interleavings against the model (64 cases of up to 60 steps).
pub fn model_interleavings<H: Harness>(h: &H) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let config = ProptestConfig {
        cases: 64,
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    proptest!(config, |(actions in proptest::collection::vec(action(), 1..60))| {
        rt.block_on(async {
            let store = h.fresh().await;
            tokio::time::timeout(crate::CASE_TIMEOUT, run_case(&store, &actions))
                .await
                .map_err(|_| TestCaseError::fail("a case got stuck"))?
        })?;
    });
}
