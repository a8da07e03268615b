//! # agora-store-conformance
//!
//! The contract of agora's local-state ports ([`RepairFiles`],
//! [`SyncCursors`], [`Outbox`], [`CatalogStore`]) written once as tests, so
//! that every store keeps the same promises: CRUD with revisions,
//! save-with-operation atomicity, the outbox's state machine, claims with
//! owners and leases, recovery of expired leases only, exclusive creations,
//! settlements, concurrent claimers that never share an entry, catalog
//! upserts by key in the order they were started, cursors that move with
//! the batch completing a sync, job leases with one holder at a time, events written with their
//! change, webhook deliveries (one at a time per repair file, leased) and
//! retention; plus a model-based test of random
//! interleavings of two dispatchers, crashes and operator resolutions
//! against a reference model.
//!
//! A store implements [`Harness`] in its own tests and invokes
//! [`conformance_tests!`], which writes one `#[tokio::test]` per check.
//! It is test code: it panics on the first broken promise, naming it.
//! It is not a store, and holds no rule of its own: it checks the rules of
//! `agora-ports` (`apply_answer`, `Operation::exclusive_key`).

#![allow(clippy::unwrap_used, clippy::missing_panics_doc)]

use agora_domain::{InterventionId, MandateId};
use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;

use agora_domain::lifecycle::RepairLifecycle;
use agora_domain::{CompleteRepairState, Lcid, ManufacturerId, WarrantyClaim};
use agora_ports::{
    CatalogStore, Events, Guard, JobLeases, Lease, LocalRepair, Operation, Outbox, OutboxState,
    RepairFiles, Retention, SyncCursors, WebhookDeliveries,
};
use jiff::Timestamp;

mod catalog;
mod events;
mod jobs;
mod local;
mod model;
mod outbox;
mod webhooks;

pub use catalog::*;
pub use events::*;
pub use jobs::*;
pub use local::*;
pub use outbox::*;
pub use webhooks::*;

pub use model::model_interleavings;

/// A store under test.
pub trait Harness: Send + Sync {
    /// The store.
    type Store: RepairFiles
        + Outbox
        + SyncCursors
        + CatalogStore
        + JobLeases
        + Events
        + WebhookDeliveries
        + Retention
        + Clone
        + Send
        + Sync
        + 'static;
    /// A new, empty store of its own.
    fn fresh(&self) -> impl Future<Output = Self::Store> + Send;
    /// A second handle on the same store, as another process would open it
    /// (its own connections).
    fn reopen(&self, store: &Self::Store) -> impl Future<Output = Self::Store> + Send;
    /// The stored spare parts of an OEM and language, as (reference,
    /// record JSON) by reference, read behind the store's back (the ports
    /// have no such read).
    fn spare_parts(
        &self,
        store: &Self::Store,
        manufacturer: ManufacturerId,
        language: Lcid,
    ) -> impl Future<Output = Vec<(String, String)>> + Send;
}

/// One `#[tokio::test]` per check of the contract, for the harness given
/// (an expression building a [`Harness`]).
#[macro_export]
macro_rules! conformance_tests {
    ($harness:expr) => {
        $crate::conformance_tests!(@each $harness;
            repairs_round_trip_with_revisions,
            save_with_operation_is_atomic,
            claims_take_due_entries_once_in_file_order,
            only_the_lease_owner_settles_an_attempt,
            a_delivery_applies_its_answer_in_the_same_write,
            recovery_touches_only_expired_leases,
            a_late_answer_settles_a_recovered_entry,
            creations_of_the_same_thing_exclude_each_other,
            settlements_by_a_person,
            concurrent_claimers_never_share_an_entry,
            batch_claims_never_share_an_entry,
            a_batch_claim_takes_a_creation_alone,
            a_crash_mid_batch_leaves_the_unsent_entries_claimable,
            outcomes_recorded_together_end_as_each_alone,
            a_file_s_delivered_entries_come_newest_first,
            operators_wait_until_the_last_attempt_cannot_land,
            any_attempts_answer_settles_the_entry_whatever_was_done_since,
            a_later_entry_waits_behind_an_earlier_doubt_of_its_file,
            pending_updates_of_a_file_collapse_into_the_newest,
            a_requeued_update_waits_until_its_attempt_cannot_land,
            cursors_round_trip,
            wire_values_kept_as_they_arrived_survive_the_store,
            a_work_order_is_kept_as_received,
            work_orders_are_kept_whether_accepted_or_not,
            catalog_upserts_keep_the_later_record_of_each_key,
            catalog_writes_apply_in_the_order_they_were_started,
            a_catalog_batch_moves_its_cursor_with_it,
            a_cursor_never_moves_back,
            an_older_sync_never_overwrites_newer_records,
            a_first_sync_that_meets_stored_keys_keeps_the_newer,
            a_job_lease_has_one_holder_at_a_time,
            events_are_recorded_with_their_change,
            webhook_deliveries_keep_order_per_file_and_leases,
            retention_prunes_only_what_is_old_and_done,
        );
        #[test]
        fn model_interleavings() {
            $crate::model_interleavings(&$harness);
        }
    };
    (@each $harness:expr; $($check:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $check() {
                $crate::$check(&$harness).await;
            }
        )*
    };
}

/// A fixed instant plus `s` seconds.
pub fn t(s: i64) -> Timestamp {
    Timestamp::from_second(1_700_000_000 + s).unwrap()
}

/// A lease of `owner` until `t(until)`.
pub fn lease(owner: &str, until: i64) -> Lease {
    Lease {
        owner: owner.to_owned(),
        until: t(until),
    }
}

/// A repair file never stored, with an unknown field to keep.
pub fn repair(id: i64) -> LocalRepair {
    let mut file = CompleteRepairState {
        intervention_id: Some(InterventionId(id)),
        mandate_id: Some(MandateId(id + 1000)),
        ..CompleteRepairState::default()
    };
    file.extra
        .insert("Kept".into(), serde_json::json!({"x": [1, 2]}));
    LocalRepair {
        intervention_id: InterventionId(id),
        mandate_id: Some(MandateId(id + 1000)),
        file,
        lifecycle: RepairLifecycle::direct(Some(ManufacturerId(19)), None),
        claim_id: None,
        orders: vec![],
        attention: None,
        revision: 0,
        work_order: None,
        accepted_at: None,
    }
}

/// Repair file `id`, as an outbox entry names it.
fn file(id: i64) -> Option<InterventionId> {
    Some(InterventionId(id))
}

fn update() -> Operation {
    Operation::UpdateRepair(CompleteRepairState::default())
}

fn order(file: i64) -> Operation {
    Operation::PlaceOrder(InterventionId(file))
}

fn create_claim() -> Operation {
    Operation::CreateClaim {
        claim: WarrantyClaim::default(),
        language: Lcid::ENGLISH,
        transfer_if_valid: true,
    }
}

/// A guard that lets a person settle at once (no window): for checks that
/// are not about timing.
fn at_once() -> Guard {
    Guard {
        window: Duration::ZERO,
        force: false,
    }
}

/// The guard of the timing checks: 60 s of request timeout, 30 s of grace.
fn guard() -> Guard {
    Guard::new(Duration::from_secs(60), Duration::from_secs(30))
}

/// How long an attempt may land after its send start in the timing
/// checks: the guard's window (90 s).
fn window() -> Duration {
    guard().window
}

async fn state_of<S: Outbox>(store: &S, id: u64) -> OutboxState {
    store.entry(id).await.unwrap().unwrap().state
}

/// How long a model case may take before it is reported stuck.
pub const CASE_TIMEOUT: Duration = Duration::from_secs(30);

/// Entries by id, as the model and the store see them.
pub(crate) type States = BTreeMap<u64, OutboxState>;
