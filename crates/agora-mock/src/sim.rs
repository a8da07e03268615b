//! The simulated AgoraPlus's accounts and state: each account's (tenant's)
//! records, the world they live in behind one lock, the simulator built
//! over it, authentication and the accounts' answer profiles. The
//! operations on each subject, the account's calls and the OEM's actions
//! alike, live in the child modules: `work_orders`, `repairs`,
//! `part_orders`, `claims`, `invoices`, `master_data`, plus `config`,
//! `injection` (faults) and `inspection`. Every rule comes from
//! `agora-domain`: the repair lifecycle, the status requirements, the claim
//! rule engine.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use agora_domain::lifecycle::RepairLifecycle;
use agora_domain::routes::Route;
use agora_domain::rules::RuleBook;
use agora_domain::{
    ClaimId, CompleteRepairState, InterventionId, MandateId, MandateLightResponse, MandateStatus,
    ManufacturerId, PartOrderLine, Product, SparePart, StateNature, ValidationResult,
    WarrantyClaim, WireDateTime,
};
use agora_ports::{Clock, SystemClock};
use jiff::Timestamp;

use crate::catalog::GeneratedCatalog;
use crate::error::{Answer, SimError};
use crate::faults::{FaultCounts, Faults};
use crate::profile::AnswerProfile;

mod autopilot;
mod claims;
mod clock;
mod config;
mod injection;
mod inspection;
mod invoice_csv;
mod invoices;
mod journal;
mod master_data;
mod part_orders;
mod repairs;
mod work_orders;

pub use autopilot::Autopilot;
pub use clock::{ClockChange, ClockView};
pub use config::{SimConfig, SimConfigFile};
pub use injection::changes_state;
pub use invoice_csv::DraftCsv;
pub use journal::JournalRecord;
pub use master_data::Delta;

#[derive(Debug, Clone)]
struct MandateRecord {
    mandate: MandateLightResponse,
    status: MandateStatus,
    intervention_id: Option<InterventionId>,
    /// Flagged through the control API: accepting it fails (per item), no
    /// repair file is created and it stays NEW.
    broken: bool,
}

#[derive(Debug, Clone)]
struct RepairRecord {
    file: CompleteRepairState,
    lifecycle: RepairLifecycle,
    claim_id: Option<ClaimId>,
    /// Every status the file's history ever held, without its parts'
    /// order marks: what a status sent again is judged against when an
    /// update replaces the history (guards off).
    reported: Vec<StateNature>,
}

#[derive(Debug, Clone)]
struct OrderRecord {
    intervention_id: InterventionId,
    line: PartOrderLine,
    /// When the line was ordered (the account's clock): the autopilot
    /// ships it a delay later.
    placed: Timestamp,
}

#[derive(Debug, Clone)]
struct ClaimRecord {
    claim: WarrantyClaim,
    intervention_id: InterventionId,
    manufacturer: Option<ManufacturerId>,
    comment: Option<String>,
    findings: Vec<ValidationResult>,
    draft: Option<String>,
    /// When the claim was last transferred to the OEM (the account's
    /// clock), while it awaits a decision: the autopilot decides it a
    /// delay later.
    transferred: Option<Timestamp>,
}

#[derive(Debug, Clone)]
struct DraftRecord {
    manufacturer: ManufacturerId,
    claims: Vec<ClaimId>,
    invoice_number: Option<String>,
    /// The CSV of its claims that comes with it.
    csv: invoice_csv::DraftCsv,
}

#[derive(Debug, Clone)]
struct KeyRecord {
    manufacturer: ManufacturerId,
    product: KeyTarget,
    expires: Timestamp,
}

#[derive(Debug, Clone)]
enum KeyTarget {
    Generated(u64),
    Published(String),
}

#[derive(Debug)]
struct Tenant {
    locked: bool,
    profile: AnswerProfile,
    mandates: BTreeMap<MandateId, MandateRecord>,
    repairs: BTreeMap<InterventionId, RepairRecord>,
    /// Order lines by (order number, part reference).
    orders: BTreeMap<(String, String), OrderRecord>,
    claims: BTreeMap<ClaimId, ClaimRecord>,
    drafts: BTreeMap<String, DraftRecord>,
    /// Every change applied for the account's calls, in order.
    journal: journal::Journal,
    /// The spare parts and products the OEM published to this account.
    published_parts: BTreeMap<ManufacturerId, BTreeMap<String, (SparePart, Timestamp)>>,
    published_products: BTreeMap<ManufacturerId, BTreeMap<String, (Product, Timestamp)>>,
    /// The account's temporary product keys, and their expiries in order
    /// (evicted once expired).
    keys: HashMap<String, KeyRecord>,
    key_expiry: BTreeSet<(Timestamp, String)>,
    /// The faults injected in the account's calls, their dice and counts.
    faults: Faults,
    fault_rng: fastrand::Rng,
    fault_counts: FaultCounts,
    /// The account's own clock setting, over the simulator's; `None`:
    /// the simulator's clock.
    clock: Option<clock::ClockState>,
    /// The OEM played by the simulator for this account, if on.
    autopilot: Option<autopilot::AutopilotState>,
}

impl Tenant {
    fn new(seed: u64, key: &str) -> Self {
        Self {
            locked: false,
            profile: AnswerProfile::default(),
            mandates: BTreeMap::new(),
            repairs: BTreeMap::new(),
            orders: BTreeMap::new(),
            claims: BTreeMap::new(),
            drafts: BTreeMap::new(),
            journal: journal::Journal::default(),
            published_parts: BTreeMap::new(),
            published_products: BTreeMap::new(),
            keys: HashMap::new(),
            key_expiry: BTreeSet::new(),
            faults: Faults::default(),
            fault_rng: fastrand::Rng::with_seed(seed ^ 0xFA17 ^ key_seed(key)),
            fault_counts: FaultCounts::default(),
            clock: None,
            autopilot: None,
        }
    }

    /// Forgets the product keys expired at `now`.
    fn evict_keys(&mut self, now: Timestamp) {
        while let Some(first) = self.key_expiry.first() {
            if first.0 > now {
                break;
            }
            if let Some((_, token)) = self.key_expiry.pop_first() {
                self.keys.remove(&token);
            }
        }
    }
}

/// A seed drawn from an account's key (FNV-1a), so that each account has
/// its own dice whatever the others do.
fn key_seed(key: &str) -> u64 {
    key.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

struct World {
    tenants: BTreeMap<String, Tenant>,
    next_mandate: MandateId,
    next_intervention: InterventionId,
    next_claim: ClaimId,
    next_order: u64,
    next_draft: u64,
    rng: fastrand::Rng,
    /// The simulator's clock setting (every account's, unless it has its
    /// own).
    clock: clock::ClockState,
}

struct Inner {
    world: Mutex<World>,
    catalog: GeneratedCatalog,
    rules: RuleBook,
    key_ttl: Duration,
    clock: Arc<dyn Clock>,
    /// The guards that absorb re-sends are off (see `journal`).
    apply_duplicates: AtomicBool,
    /// Held while the autopilot catches an account up, so that two
    /// catch-ups never interleave (the monthly drafts are issued outside
    /// the world's lock).
    autopilot_turn: Mutex<()>,
    seed: u64,
}

/// The simulated AgoraPlus. Cheap to clone: clones share one state.
#[derive(Clone)]
pub struct Simulator {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Simulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Simulator")
            .field("catalog", &self.inner.catalog)
            .finish_non_exhaustive()
    }
}

fn now_wire(ts: Timestamp) -> WireDateTime {
    WireDateTime::from_timestamp(ts)
}

/// The domain's rules of what a body of `route` must hold: what the route
/// itself needs, then, when `marks`, every field the reference marks
/// required (`Route::missing_fields`). A request lacking any is incomplete:
/// a 400 naming every field it lacks.
fn require(route: Route, body: &impl serde::Serialize, marks: bool) -> Result<(), SimError> {
    let body = serde_json::to_value(body).map_err(|_| SimError::Internal)?;
    match route.missing_fields(&body, marks).as_slice() {
        [] => Ok(()),
        [one] => Err(required(one)),
        [many @ .., last] => Err(SimError::BadRequest(format!(
            "{} and {last} are required",
            many.join(", ")
        ))),
    }
}

/// The 400 of a request lacking `what`.
fn required(what: &str) -> SimError {
    SimError::BadRequest(format!("{what} is required"))
}

impl Simulator {
    /// A simulator on the system clock.
    pub fn new(config: SimConfig) -> Self {
        Self::with_clock(config, Arc::new(SystemClock))
    }

    /// A simulator reading time from `clock`.
    pub fn with_clock(config: SimConfig, clock: Arc<dyn Clock>) -> Self {
        let mut tenants = BTreeMap::new();
        let mut keys = config.tenants.clone();
        if keys.is_empty() && config.locked.is_empty() {
            keys.push("demo".to_owned());
        }
        let start = clock.now();
        for key in keys {
            let tenant = Tenant::new(config.seed, &key);
            tenants.insert(key, tenant);
        }
        for key in &config.locked {
            let mut tenant = Tenant::new(config.seed, key);
            tenant.locked = true;
            tenants.insert(key.clone(), tenant);
        }
        if let Some(pilot) = &config.autopilot {
            for (key, tenant) in &mut tenants {
                if pilot.covers(key) {
                    tenant.autopilot = Some(autopilot::AutopilotState::new(
                        pilot.clone(),
                        config.seed,
                        key,
                        start,
                    ));
                }
            }
        }
        for (key, profile) in &config.profiles {
            if let Some(tenant) = tenants.get_mut(key) {
                tenant.profile = profile.clone();
            }
        }
        let world = World {
            tenants,
            next_mandate: MandateId(100_001),
            next_intervention: InterventionId(500_001),
            next_claim: ClaimId(5_000_001),
            next_order: 1,
            next_draft: 1,
            rng: fastrand::Rng::with_seed(config.seed),
            clock: clock::ClockState::default(),
        };
        Self {
            inner: Arc::new(Inner {
                world: Mutex::new(world),
                catalog: GeneratedCatalog {
                    seed: config.seed,
                    size: config.catalog_size,
                },
                rules: config.rules,
                key_ttl: config.product_key_ttl,
                clock,
                apply_duplicates: AtomicBool::new(config.apply_duplicates),
                autopilot_turn: Mutex::new(()),
                seed: config.seed,
            }),
        }
    }

    fn world(&self) -> MutexGuard<'_, World> {
        // A panic while holding the lock cannot leave a half-applied change:
        // every operation computes on copies and commits at its end.
        self.inner
            .world
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The time of the real clock the simulator was given, before any
    /// setting of `/_sim/clock`.
    fn base_now(&self) -> Timestamp {
        self.inner.clock.now()
    }

    /// The generated catalog.
    pub fn catalog(&self) -> GeneratedCatalog {
        self.inner.catalog
    }

    /// Checks an api_key: 401 when unknown, 403 when locked.
    pub fn authenticate(&self, key: &str) -> Result<(), SimError> {
        self.catch_up(key);
        match self.world().tenants.get(key) {
            None => Err(SimError::Unauthorized),
            Some(t) if t.locked => Err(SimError::Locked),
            Some(_) => Ok(()),
        }
    }

    /// `f` on the account `key`, with its clock's time, after the
    /// account's autopilot caught up: as AgoraPlus answers its caller
    /// (`Access::Api`: an unknown key is unauthorized, a locked account
    /// locked) or as the OEM acts on it (`Access::Oem`: locked or not; an
    /// unknown key is a 404 that does not show it).
    fn on_account<R>(
        &self,
        key: &str,
        access: Access,
        f: impl FnOnce(&mut Tenant, &mut Counters<'_>, Timestamp) -> Result<R, SimError>,
    ) -> Result<R, SimError> {
        self.catch_up(key);
        let base = self.base_now();
        let mut world = self.world();
        let World {
            tenants,
            next_intervention,
            next_claim,
            next_order,
            clock,
            ..
        } = &mut *world;
        let tenant = match (tenants.get_mut(key), access) {
            (None, Access::Api) => return Err(SimError::Unauthorized),
            (Some(t), Access::Api) if t.locked => return Err(SimError::Locked),
            (None, Access::Oem) => {
                return Err(SimError::NotFound(format!(
                    "no account with key {}",
                    hint(key)
                )));
            }
            (Some(t), _) => t,
        };
        let now = clock::tenant_now(clock, tenant, base);
        tenant.evict_keys(now);
        let mut counters = Counters {
            intervention: next_intervention,
            claim: next_claim,
            order: next_order,
        };
        f(tenant, &mut counters, now)
    }

    fn with_tenant<R>(
        &self,
        key: &str,
        f: impl FnOnce(&mut Tenant, &mut Counters<'_>, Timestamp) -> Result<R, SimError>,
    ) -> Result<R, SimError> {
        self.on_account(key, Access::Api, f)
    }

    // ----- the accounts' answer profiles -----

    /// The OEM's side on an account, locked or not: `f` gets the account
    /// and its clock's time; an unknown key is a 404 that does not show it.
    fn with_account<R>(
        &self,
        key: &str,
        f: impl FnOnce(&mut Tenant, &mut Counters<'_>, Timestamp) -> Result<R, SimError>,
    ) -> Result<R, SimError> {
        self.on_account(key, Access::Oem, f)
    }

    /// Whether an account with this key exists (locked or not).
    pub fn has_account(&self, key: &str) -> bool {
        self.world().tenants.contains_key(key)
    }

    /// The answer profile of an account.
    pub fn profile(&self, api_key: &str) -> Result<AnswerProfile, SimError> {
        self.world()
            .tenants
            .get(api_key)
            .map(|t| t.profile.clone())
            .ok_or_else(|| SimError::NotFound(format!("no account with key {}", hint(api_key))))
    }

    /// Sets the answer profile of an account.
    pub fn set_profile(&self, api_key: &str, profile: AnswerProfile) -> Result<(), SimError> {
        profile.validate()?;
        let mut world = self.world();
        let tenant = world
            .tenants
            .get_mut(api_key)
            .ok_or_else(|| SimError::NotFound(format!("no account with key {}", hint(api_key))))?;
        tenant.profile = profile;
        Ok(())
    }

    /// The answer as the account's profile words its envelope: `W` with
    /// the profile's warning as `ResponseMessage`, when it has one.
    pub fn worded<T>(&self, api_key: &str, answer: Answer<T>) -> Answer<T> {
        match self.world().tenants.get(api_key) {
            Some(t) => t.profile.word_envelope(answer),
            None => answer,
        }
    }
}

/// A key shown without revealing it.
fn hint(key: &str) -> String {
    format!("({} chars)", key.chars().count())
}

/// Id counters and the seeded generator, lent to an operation.
struct Counters<'a> {
    intervention: &'a mut InterventionId,
    claim: &'a mut ClaimId,
    order: &'a mut u64,
}

impl Counters<'_> {
    fn next_intervention(&mut self) -> InterventionId {
        let id = *self.intervention;
        self.intervention.0 += 1;
        id
    }
    fn next_claim(&mut self) -> ClaimId {
        let id = *self.claim;
        self.claim.0 += 1;
        id
    }
    fn next_order(&mut self) -> u64 {
        let id = *self.order;
        *self.order += 1;
        id
    }
}

/// Who acts on an account ([`Simulator::on_account`]).
#[derive(Clone, Copy)]
enum Access {
    /// AgoraPlus's caller, through the API.
    Api,
    /// The OEM, through the simulator's controls.
    Oem,
}
