//! The outbox against a reference model: random interleavings of two
//! dispatchers (claims, outcomes, crashes), the clock, recovery and a
//! person's settlements; after every step the store's states must equal
//! the model's.

use agora_domain::InterventionId;
use std::collections::BTreeMap;

use agora_ports::{
    Attempt, Guard, Operation, OperationAnswer, Outbox, OutboxState, ParkReason, Settlement,
};
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
        3 => (0..2usize, 0..5u8).prop_map(|(worker, outcome)| Action::Finish { worker, outcome }),
        1 => (0..2usize).prop_map(|worker| Action::Crash { worker }),
        2 => (1..15i64).prop_map(|secs| Action::Advance { secs }),
        1 => Just(Action::Recover),
        2 => (0..8usize, 0..5u8).prop_map(|(pick, how)| Action::Settle { pick, how }),
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
    /// Attempts so far (claims).
    attempts: u32,
    sent_at: Option<i64>,
    parked_at: Option<i64>,
    reason: Option<ParkReason>,
    held_until: Option<i64>,
}

/// The settlement guard's window (request timeout + grace).
const WINDOW: i64 = 20;

impl Entry {
    /// Until when its last attempt may land.
    fn lands_until(&self) -> Option<i64> {
        if self.reason.is_some_and(|r| !r.may_still_land()) {
            return None;
        }
        Some(self.sent_at.or(self.parked_at)? + WINDOW)
    }

    fn park(&mut self, state: OutboxState, reason: ParkReason, now: i64) {
        self.state = state;
        self.reason = Some(reason);
        self.parked_at = Some(now);
    }
}

#[derive(Debug, Default)]
struct Model {
    now: i64,
    entries: BTreeMap<u64, Entry>,
    /// What each worker believes it holds: the entry and its attempt.
    holding: [Option<(u64, u32)>; 2],
}

const LEASE: i64 = 10;

impl Model {
    fn open_key(&self, key: &str, except: Option<u64>) -> bool {
        self.entries.iter().any(|(id, e)| {
            Some(*id) != except
                && e.key.as_deref() == Some(key)
                && (matches!(
                    e.state,
                    OutboxState::Pending | OutboxState::Sending | OutboxState::InDoubt
                ) || e.held_until.is_some_and(|h| h > self.now))
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
                            && (matches!(
                                o.state,
                                OutboxState::Pending | OutboxState::Sending | OutboxState::InDoubt
                            ) || (o.state == OutboxState::Failed
                                && o.reason == Some(ParkReason::GaveUp)))
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
        3 => Attempt::Failed("gave up".into()),
        _ => Attempt::Refused("refused".into()),
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
                // A whole-file update goes into its file's latest entry
                // when that is a pending update (`collapses_into`).
                let into = m
                    .entries
                    .iter()
                    .rev()
                    .find(|(_, e)| e.file == *file)
                    .filter(|(_, e)| !*order && e.idempotent && e.state == OutboxState::Pending)
                    .map(|(id, _)| *id);
                if let Some(into) = into {
                    let id = got.map_err(|e| TestCaseError::fail(format!("step {step}: {e}")))?;
                    prop_assert_eq!(id, into, "step {}: not collapsed", step);
                } else if key.as_deref().is_some_and(|k| m.open_key(k, None)) {
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
                            attempts: 0,
                            sent_at: None,
                            parked_at: None,
                            reason: None,
                            held_until: None,
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
                    e.attempts += 1;
                    e.sent_at = Some(m.now);
                    m.holding[*worker] = Some((id, e.attempts));
                }
            }
            Action::Finish {
                worker,
                outcome: code,
            } => {
                let Some((id, attempt_no)) = m.holding[*worker].take() else {
                    continue;
                };
                let attempt = outcome(*code, m.now);
                let got = store
                    .finish(id, &format!("w{worker}"), attempt_no, &attempt, t(m.now))
                    .await
                    .map_err(|e| TestCaseError::fail(e.to_string()))?;
                let now = m.now;
                let e = m
                    .entries
                    .get_mut(&id)
                    .ok_or_else(|| TestCaseError::fail("model"))?;
                let held = e.state == OutboxState::Sending
                    && e.owner == Some(*worker)
                    && e.attempts == attempt_no;
                // Every answer of the model is the same (no order lines):
                // on a delivered entry it is known, not a duplicate.
                let late = !held && *code == 0 && e.state != OutboxState::Delivered;
                prop_assert_eq!(
                    got.recorded(),
                    held || late,
                    "step {}: finish of attempt {} ({:?})",
                    step,
                    attempt_no,
                    got
                );
                if held || late {
                    e.owner = None;
                    match code {
                        0 => e.state = OutboxState::Delivered,
                        1 => {
                            e.next_at = now + 5;
                            e.state = OutboxState::Pending;
                        }
                        2 => e.park(OutboxState::InDoubt, ParkReason::InDoubt, now),
                        3 => e.park(OutboxState::Failed, ParkReason::GaveUp, now),
                        _ => e.park(OutboxState::Failed, ParkReason::Refused, now),
                    }
                }
            }
            Action::Crash { worker } => m.holding[*worker] = None,
            Action::Advance { secs } => m.now += secs,
            Action::Recover => {
                let mut parked = store
                    .recover_expired(
                        t(m.now),
                        std::time::Duration::from_secs(WINDOW.unsigned_abs()),
                    )
                    .await
                    .map_err(|e| TestCaseError::fail(e.to_string()))?;
                parked.sort_unstable();
                let mut expected = Vec::new();
                for (id, e) in &mut m.entries {
                    if e.state == OutboxState::Sending && e.lease_until <= m.now {
                        e.owner = None;
                        if e.idempotent {
                            e.state = OutboxState::Pending;
                            // Due once its attempt can no longer land.
                            if let Some(sent) = e.sent_at {
                                e.next_at = e.next_at.max(sent + WINDOW);
                            }
                        } else {
                            e.park(OutboxState::InDoubt, ParkReason::InDoubt, m.now);
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
                // 3 and 4: a forced resend and abandon.
                let settlement = match how {
                    0 | 3 => Settlement::Resend,
                    1 | 4 => Settlement::Abandon,
                    _ => Settlement::Applied(OperationAnswer::Ordered(vec![])),
                };
                let force = *how >= 3;
                let guard = Guard {
                    window: std::time::Duration::from_secs(WINDOW.unsigned_abs()),
                    force,
                };
                let got = store.settle(id, &settlement, guard, t(m.now)).await;
                let e = m.entries[&id].clone();
                let settleable = matches!(e.state, OutboxState::InDoubt | OutboxState::Failed);
                let lands = e.lands_until().filter(|u| *u > m.now);
                let too_soon = *how != 2 && !force && lands.is_some();
                let resend = matches!(how, 0 | 3);
                let blocked = resend && e.key.as_deref().is_some_and(|k| m.open_key(k, Some(id)));
                if !settleable || too_soon || blocked {
                    prop_assert!(got.is_err(), "step {}: settled {:?}", step, e.state);
                } else {
                    let state =
                        got.map_err(|e| TestCaseError::fail(format!("step {step}: {e}")))?;
                    let next = match how {
                        0 | 3 => OutboxState::Pending,
                        1 | 4 => OutboxState::Failed,
                        _ => OutboxState::Delivered,
                    };
                    prop_assert_eq!(state, next);
                    let now = m.now;
                    let entry = m
                        .entries
                        .get_mut(&id)
                        .ok_or_else(|| TestCaseError::fail("model"))?;
                    entry.state = next;
                    if resend {
                        entry.next_at = now;
                        entry.held_until = None;
                    } else if next == OutboxState::Failed {
                        entry.park(OutboxState::Failed, ParkReason::Abandoned, now);
                        entry.held_until = lands;
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
