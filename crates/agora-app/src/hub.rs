//! The use-case hub: the ports it runs on and its settings.

use std::sync::Arc;
use std::time::Duration;

use agora_domain::Lcid;
use agora_domain::rules::RuleBook;
use agora_ports::{AgoraError, CatalogStore, Clock, LocalRepair, Outbox, RepairFiles, SyncCursors};

use crate::progress::CONFLICT_RETRIES;

/// Every store port: what the use cases keep their state in.
pub trait LocalStore: RepairFiles + SyncCursors + Outbox + CatalogStore {}

impl<T: RepairFiles + SyncCursors + Outbox + CatalogStore> LocalStore for T {}

/// Settings of the use cases, with documented defaults.
#[derive(Debug, Clone)]
pub struct AppConfig {
    /// Accept new work orders as they are pulled (default true).
    pub auto_accept: bool,
    /// Language of AgoraPlus's validation messages (default English, 1033).
    pub language: Lcid,
    /// Transfer a claim to the OEM at once when it is VALID (default true).
    pub transfer_if_valid: bool,
    /// How far before the cursor a catalog delta starts again (default one day).
    pub delta_overlap: Duration,
    /// First retry delay of an outbox entry (default 2 s); doubles per attempt.
    pub retry_base: Duration,
    /// Longest retry delay (default 5 min).
    pub retry_max: Duration,
    /// Attempts after which a retryable entry is given up as failed (default 20).
    pub max_attempts: u32,
    /// The name this process holds outbox entries under while it sends
    /// them; unique among the processes sharing a store (default
    /// `host:pid:RANDOM`, [`agora_ports::Lease::process_owner`]). Each
    /// claim is held as `WORKER#N`, N counting the claims of the process,
    /// so that two tasks of one process never hold under one name.
    pub worker: String,
    /// How long a claimed outbox entry stays this process's without renewal
    /// (default 60 s; renewed every third of it during a send). A process
    /// that dies loses its entries to recovery once their lease expires.
    pub lease: Duration,
    /// The longest an outbox send may take, the HTTP client's own retries
    /// included (default 60 s): the dispatcher gives up on it then (in
    /// doubt for a creation, retried for an update, no earlier than its send
    /// start + `request_timeout` + `grace`, so that the retry, carrying the
    /// newest file, is not overtaken by the attempt given up). Keep it at
    /// least the HTTP client's request timeout.
    pub request_timeout: Duration,
    /// How long after a send was given up AgoraPlus may still apply it
    /// (default 30 s), clock differences between the processes sharing the
    /// store included (recovery takes back only a lease expired by more
    /// than the grace). A person may resend or abandon an entry only once
    /// its last attempt's send start + `request_timeout` + `grace` has
    /// passed (unless forced); an update whose attempt timed out, or whose
    /// sender stopped, is sent again only then.
    pub grace: Duration,
    /// Where answers AgoraPlus gave are kept when the store cannot record
    /// them (it stayed away through about 12 s of retries): a directory,
    /// one JSON file per answer, recorded by the next process's recovery
    /// before it parks anything in doubt. `None` (the default): the answer
    /// is only shown, whole, in the error.
    pub answer_spool: Option<std::path::PathBuf>,
}

impl Default for AppConfig {
    fn default() -> Self {
        Self {
            auto_accept: true,
            language: Lcid::ENGLISH,
            transfer_if_valid: true,
            delta_overlap: Duration::from_secs(86_400),
            retry_base: Duration::from_secs(2),
            retry_max: Duration::from_secs(300),
            max_attempts: 20,
            worker: agora_ports::Lease::process_owner(),
            lease: Duration::from_secs(60),
            request_timeout: Duration::from_secs(60),
            grace: Duration::from_secs(30),
            answer_spool: None,
        }
    }
}

impl AppConfig {
    /// How long after its start an outbox send can no longer take effect
    /// in AgoraPlus: `request_timeout` + `grace` (how long after a
    /// request's timeout an answer may still land). Before that, a person
    /// cannot know whether an earlier attempt will still land.
    pub fn can_no_longer_land_after(&self) -> Duration {
        self.request_timeout.saturating_add(self.grace)
    }
}

/// The use cases over an AgoraPlus `A` and a local store `S`.
#[derive(Clone)]
pub struct Agora<A, S> {
    pub(crate) api: A,
    pub(crate) store: S,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) config: AppConfig,
    pub(crate) rules: Arc<RuleBook>,
}

impl<A, S> std::fmt::Debug for Agora<A, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Agora")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl<A, S> Agora<A, S> {
    /// The use cases over `api` and `store`, reading time from `clock`.
    pub fn new(api: A, store: S, clock: Arc<dyn Clock>, config: AppConfig) -> Self {
        Self {
            api,
            store,
            clock,
            config,
            rules: Arc::new(RuleBook::defaults()),
        }
    }

    /// Replaces the rule book of the optional local claim pre-check.
    #[must_use]
    pub fn with_rules(mut self, rules: RuleBook) -> Self {
        self.rules = Arc::new(rules);
        self
    }

    /// The same use cases over the AgoraPlus adapter `f` makes of this
    /// one (wrapped, or given a `CallMeter`); store, clock, settings and
    /// rules kept.
    pub fn map_api<B>(self, f: impl FnOnce(A) -> B) -> Agora<B, S> {
        Agora {
            api: f(self.api),
            store: self.store,
            clock: self.clock,
            config: self.config,
            rules: self.rules,
        }
    }

    /// The AgoraPlus the use cases talk to.
    pub fn api(&self) -> &A {
        &self.api
    }

    /// The local store.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// The settings.
    pub fn config(&self) -> &AppConfig {
        &self.config
    }
}

impl<A, S: RepairFiles> Agora<A, S> {
    /// A local repair file, or `Missing`.
    pub async fn repair(
        &self,
        id: agora_domain::InterventionId,
    ) -> Result<LocalRepair, AgoraError> {
        self.store
            .repair(id)
            .await?
            .ok_or_else(|| AgoraError::Missing(format!("repair file {id}")))
    }

    /// Writes `repair` changed by `change`; when another process wrote the
    /// file since it was read, reads it again and redoes the change (a few
    /// times), so that neither write is lost. Returns the file as written.
    pub(crate) async fn rewrite(
        &self,
        mut repair: LocalRepair,
        change: impl Fn(&mut LocalRepair),
    ) -> Result<LocalRepair, AgoraError> {
        let mut tries = 0;
        loop {
            change(&mut repair);
            match self.store.upsert_repair(&repair).await {
                Err(AgoraError::Conflict(_)) if tries < CONFLICT_RETRIES => {
                    tries += 1;
                    repair = self.repair(repair.intervention_id).await?;
                }
                other => return other.map(|()| repair),
            }
        }
    }
}
