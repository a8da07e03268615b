//! The request journal: every change the simulator applied for an
//! account's call, in order, with the intent it carries (the repair file of
//! a work order, a status of a file, the order of a part, the claim of a
//! file, the invoice of a draft) and whether an earlier applied request
//! carried the same intent: a duplicate, counted here whatever the guards
//! of the simulator did with it.
//!
//! With the guards on (the default), a re-sent creation is refused or
//! merged and never reaches the journal twice; with
//! [`Simulator::set_apply_duplicates`] they are off, and a duplicate is
//! applied, journaled and counted, as an AgoraPlus without those guards
//! would apply it.

use std::sync::atomic::Ordering;

use agora_domain::WireDateTime;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::{Simulator, hint};
use crate::error::SimError;

/// What an applied request did, by the intent it carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct JournalRecord {
    /// Its rank in the account's journal, from 1.
    pub seq: u64,
    /// The AgoraPlus route called (`CreateWarrantyClaims`, …).
    pub route: String,
    /// The intent's key: `repair file for work order 100001`, `status 102
    /// 'RDV' of file 500001`, `order of part P-1 for file 500001`, `claim
    /// for file 500001`, `correction of claim 5000001`, `invoice of draft
    /// DR-1-00001`, `update of file 500001`, `repair file 500002 created`.
    pub intent: String,
    /// What the request made, if anything: a file's, an order's or a
    /// claim's identifier, an invoice number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub made: Option<String>,
    /// When it was applied.
    pub at: WireDateTime,
    /// Whether it creates something (a duplicate of a creation is a second
    /// object; an update that replaces is never a duplicate).
    pub creates: bool,
    /// The record of the first request applied with the same intent, when
    /// this one is a creation repeating it: a duplicate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duplicate_of: Option<u64>,
}

impl JournalRecord {
    /// Whether it applied a creation an earlier request had applied.
    pub fn is_duplicate(&self) -> bool {
        self.duplicate_of.is_some()
    }
}

/// An account's journal.
#[derive(Debug, Clone, Default)]
pub(super) struct Journal(Vec<JournalRecord>);

impl Journal {
    /// The records, in order.
    pub(super) fn records(&self) -> &[JournalRecord] {
        &self.0
    }

    /// Journals a change applied at `at`: a creation repeating an earlier
    /// one is marked a duplicate of it.
    pub(super) fn push_applied(
        &mut self,
        route: &str,
        intent: String,
        made: Option<String>,
        creates: bool,
        at: Timestamp,
    ) {
        let duplicate_of = if creates {
            self.0
                .iter()
                .find(|r| r.creates && r.intent == intent)
                .map(|r| r.seq)
        } else {
            None
        };
        let seq = self.0.len() as u64 + 1;
        self.0.push(JournalRecord {
            seq,
            route: route.to_owned(),
            intent,
            made,
            at: WireDateTime::from_timestamp(at),
            creates,
            duplicate_of,
        });
    }
}

impl Simulator {
    /// An account's journal: every request applied, in order.
    pub fn journal(&self, api_key: &str) -> Result<Vec<JournalRecord>, SimError> {
        self.catch_up(api_key);
        self.world()
            .tenants
            .get(api_key)
            .map(|t| t.journal.0.clone())
            .ok_or_else(|| SimError::NotFound(format!("no account with key {}", hint(api_key))))
    }

    /// Turns the guards that absorb re-sends off (`true`) or on: with them
    /// off, a second claim for a file is created, an order with no part
    /// left to order orders the file's ordered parts again, an invoice is
    /// linked again to a draft already linked (each journaled as a
    /// duplicate), and `UpdateRepair` replaces the file's status history
    /// with the one it carries instead of merging the statuses not seen
    /// before (AgoraPlus's own closure status kept): a stale file applied
    /// after a newer one shows as the older file.
    pub fn set_apply_duplicates(&self, on: bool) {
        self.inner.apply_duplicates.store(on, Ordering::SeqCst);
    }

    /// Whether the guards that absorb re-sends are off.
    pub fn applies_duplicates(&self) -> bool {
        self.inner.apply_duplicates.load(Ordering::SeqCst)
    }
}
