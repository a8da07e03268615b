//! What the worker measures, for an operator: the health of each loop
//! ([`WatchMetrics::health`]) and the figures of `/metrics`
//! ([`WatchMetrics::render`], the Prometheus text exposition format).
//!
//! Nothing here serves HTTP: `agora watch --metrics ADDR` (the CLI) serves
//! both; a product that embeds [`crate::Watch`] reads them from
//! [`crate::Watch::metrics`] and exposes them as it likes.
//!
//! The calls to AgoraPlus are counted where they are made, by the adapter:
//! [`WatchMetrics`] is the [`CallMeter`] the HTTP client is given
//! (`AgoraClient::with_meter`).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use agora_ports::{
    AgoraError, CallMeter, CallOutcome, Clock, Outbox, OutboxState, WebhookDeliveries,
};
use jiff::Timestamp;

use crate::hub::Agora;
use crate::watch::{Job, WatchConfig};

/// One loop's last runs.
#[derive(Debug, Clone, Default)]
struct LoopState {
    /// The loop's interval.
    interval: Duration,
    /// When it last succeeded (or found the job done by another worker).
    last_success: Option<Timestamp>,
    /// When and why it last failed.
    last_error: Option<(Timestamp, String)>,
    /// Whether its last run failed.
    failing: bool,
}

#[derive(Debug, Default)]
struct Counts {
    calls: BTreeMap<(&'static str, CallOutcome), u64>,
    retries: BTreeMap<&'static str, u64>,
    loops: BTreeMap<&'static str, LoopState>,
    started: Option<Timestamp>,
}

/// The worker's measurements: the calls to AgoraPlus, the loops' last
/// runs; shared between the worker, the HTTP client (a [`CallMeter`]) and
/// whoever serves them. Cheap to share (`Arc`).
pub struct WatchMetrics {
    clock: Arc<dyn Clock>,
    /// How late a loop's next success may be, past its interval and its
    /// jitter, before it is unhealthy.
    slack: Duration,
    jitter: f64,
    counts: Mutex<Counts>,
}

impl std::fmt::Debug for WatchMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WatchMetrics")
            .field("slack", &self.slack)
            .finish_non_exhaustive()
    }
}

/// The health of one loop.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LoopHealth {
    /// The loop (`work-orders`, `outbox`, …).
    #[serde(rename = "loop")]
    pub name: &'static str,
    /// Whether its last run succeeded within its interval (plus slack).
    pub healthy: bool,
    /// Why not, when not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// When it last succeeded.
    #[serde(serialize_with = "rfc3339")]
    pub last_success: Option<Timestamp>,
    /// When it last failed.
    #[serde(serialize_with = "rfc3339")]
    pub last_error_at: Option<Timestamp>,
    /// Why it last failed.
    pub last_error: Option<String>,
}

/// A time as RFC 3339 text, or null.
fn rfc3339<S: serde::Serializer>(t: &Option<Timestamp>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => s.serialize_some(&t.to_string()),
        None => s.serialize_none(),
    }
}

/// The health of the worker: healthy when each loop is.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Health {
    /// Whether every loop is healthy.
    pub healthy: bool,
    /// Each loop's health.
    pub loops: Vec<LoopHealth>,
}

impl Health {
    /// The first unhealthy loop, if any.
    pub fn first_unhealthy(&self) -> Option<&LoopHealth> {
        self.loops.iter().find(|l| !l.healthy)
    }
}

/// What is read from the store and the hooks at each scrape.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Gauges {
    /// Outbox entries by state (delivered ones aside: they are history,
    /// not depth).
    pub outbox: Vec<(OutboxState, u64)>,
    /// Events pending per webhook.
    pub webhook_pending: Vec<(String, u64)>,
}

/// The outbox's states counted as its depth.
const DEPTH_STATES: [OutboxState; 4] = [
    OutboxState::Pending,
    OutboxState::Sending,
    OutboxState::InDoubt,
    OutboxState::Failed,
];

impl WatchMetrics {
    /// Measurements of a worker with `config`, reading time from `clock`;
    /// each periodic loop is registered with its interval.
    pub fn new(clock: Arc<dyn Clock>, config: &WatchConfig) -> Self {
        let mut loops = BTreeMap::new();
        let mut register = |job: Job, interval: Duration| {
            loops.insert(
                job.name(),
                LoopState {
                    interval,
                    ..LoopState::default()
                },
            );
        };
        register(Job::WorkOrders, config.work_orders_every);
        register(Job::PartOrders, config.part_orders_every);
        register(Job::Claims, config.claims_every);
        register(Job::Outbox, config.outbox_poll);
        if !config.catalogs.is_empty() {
            register(Job::Catalog, Duration::from_secs(86_400));
        }
        Self {
            clock,
            slack: config.health_slack,
            jitter: config.jitter.clamp(0.0, 1.0),
            counts: Mutex::new(Counts {
                loops,
                ..Counts::default()
            }),
        }
    }

    fn counts(&self) -> std::sync::MutexGuard<'_, Counts> {
        self.counts.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The worker started now: a loop that has not run yet is healthy
    /// until its interval (plus slack) has passed since.
    pub(crate) fn started(&self) {
        let now = self.clock.now();
        self.counts().started = Some(now);
    }

    /// `job`'s run succeeded (or another worker had just done it).
    pub(crate) fn succeeded(&self, job: Job) {
        let now = self.clock.now();
        let mut counts = self.counts();
        let state = counts.loops.entry(job.name()).or_default();
        state.last_success = Some(now);
        state.failing = false;
    }

    /// `job`'s run failed with `error`.
    pub(crate) fn failed(&self, job: Job, error: &AgoraError) {
        let now = self.clock.now();
        let mut counts = self.counts();
        let state = counts.loops.entry(job.name()).or_default();
        state.last_error = Some((now, error.to_string()));
        state.failing = true;
    }

    /// The health of each loop now.
    pub fn health(&self) -> Health {
        self.health_at(self.clock.now())
    }

    /// The health of each loop at `now`: a loop is healthy while its last
    /// run succeeded and its last success (or the start, before its first
    /// run) is no older than its interval, stretched by the jitter, plus
    /// the slack.
    pub fn health_at(&self, now: Timestamp) -> Health {
        let counts = self.counts();
        let loops: Vec<LoopHealth> = counts
            .loops
            .iter()
            .map(|(&name, state)| {
                let limit = state.interval.mul_f64(1.0 + self.jitter) + self.slack;
                let since = state.last_success.or(counts.started);
                let reason = if state.failing {
                    Some("its last run failed".to_owned())
                } else {
                    match since {
                        None => Some("not started".to_owned()),
                        Some(since) => {
                            let age =
                                Duration::try_from(now.duration_since(since)).unwrap_or_default();
                            (age > limit).then(|| {
                                format!(
                                    "no success for {} s (expected every {} s)",
                                    age.as_secs(),
                                    state.interval.as_secs()
                                )
                            })
                        }
                    }
                };
                LoopHealth {
                    name,
                    healthy: reason.is_none(),
                    reason,
                    last_success: state.last_success,
                    last_error_at: state.last_error.as_ref().map(|(at, _)| *at),
                    last_error: state.last_error.as_ref().map(|(_, e)| e.clone()),
                }
            })
            .collect();
        Health {
            healthy: loops.iter().all(|l| l.healthy),
            loops,
        }
    }

    /// The gauges read at a scrape from the store of `app`: the outbox's
    /// depth by state, and the deliveries pending per webhook.
    pub async fn gauges<A, S: Outbox + WebhookDeliveries>(
        &self,
        app: &Agora<A, S>,
    ) -> Result<Gauges, AgoraError> {
        let mut outbox = Vec::new();
        for state in DEPTH_STATES {
            let n = app.store.entries(state).await?.len();
            outbox.push((state, u64::try_from(n).unwrap_or(u64::MAX)));
        }
        let webhook_pending = app
            .store
            .webhook_backlog()
            .await?
            .into_iter()
            .map(|b| (b.endpoint, b.pending))
            .collect();
        Ok(Gauges {
            outbox,
            webhook_pending,
        })
    }

    /// Everything measured, in the Prometheus text exposition format
    /// (version 0.0.4), with `gauges` read at this scrape.
    pub fn render(&self, gauges: &Gauges) -> String {
        self.render_at(self.clock.now(), gauges)
    }

    /// As [`WatchMetrics::render`], at `now`.
    pub fn render_at(&self, now: Timestamp, gauges: &Gauges) -> String {
        let health = self.health_at(now);
        let counts = self.counts();
        let mut out = String::new();
        family(
            &mut out,
            "agora_calls_total",
            "counter",
            "Calls to AgoraPlus by route and outcome, each counted once after its retries.",
        );
        for ((route, outcome), n) in &counts.calls {
            sample(
                &mut out,
                "agora_calls_total",
                &[("route", *route), ("outcome", outcome.as_str())],
                &n.to_string(),
            );
        }
        family(
            &mut out,
            "agora_call_retries_total",
            "counter",
            "Attempts of a call to AgoraPlus after its first, by route.",
        );
        for (route, n) in &counts.retries {
            sample(
                &mut out,
                "agora_call_retries_total",
                &[("route", *route)],
                &n.to_string(),
            );
        }
        family(
            &mut out,
            "agora_outbox_entries",
            "gauge",
            "Outbox entries by state (delivered ones aside).",
        );
        for (state, n) in &gauges.outbox {
            sample(
                &mut out,
                "agora_outbox_entries",
                &[("state", state.as_str())],
                &n.to_string(),
            );
        }
        family(
            &mut out,
            "agora_loop_last_success_age_seconds",
            "gauge",
            "Seconds since each loop of the worker last succeeded (absent before its first success).",
        );
        for (name, state) in &counts.loops {
            if let Some(at) = state.last_success {
                let age = now.duration_since(at).as_secs_f64().max(0.0);
                sample(
                    &mut out,
                    "agora_loop_last_success_age_seconds",
                    &[("loop", *name)],
                    &format!("{age:.3}"),
                );
            }
        }
        family(
            &mut out,
            "agora_loop_healthy",
            "gauge",
            "1 while the loop's last run succeeded within its interval (plus slack), else 0.",
        );
        for l in &health.loops {
            sample(
                &mut out,
                "agora_loop_healthy",
                &[("loop", l.name)],
                if l.healthy { "1" } else { "0" },
            );
        }
        family(
            &mut out,
            "agora_webhook_events_pending",
            "gauge",
            "Events waiting for delivery to each webhook.",
        );
        for (webhook, n) in &gauges.webhook_pending {
            sample(
                &mut out,
                "agora_webhook_events_pending",
                &[("webhook", webhook.as_str())],
                &n.to_string(),
            );
        }
        out
    }

    /// The calls counted so far of `route` that ended with `outcome`.
    pub fn calls(&self, route: &str, outcome: CallOutcome) -> u64 {
        self.counts()
            .calls
            .iter()
            .filter(|((r, o), _)| *r == route && *o == outcome)
            .map(|(_, n)| *n)
            .sum()
    }
}

impl CallMeter for WatchMetrics {
    fn call(&self, route: &'static str, outcome: CallOutcome) {
        *self.counts().calls.entry((route, outcome)).or_default() += 1;
    }

    fn retry(&self, route: &'static str) {
        *self.counts().retries.entry(route).or_default() += 1;
    }
}

/// A family's `# HELP` and `# TYPE` lines.
fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// One sample line, its label values escaped as the format says
/// (backslash, double quote, line feed).
fn sample(out: &mut String, name: &str, labels: &[(&str, &str)], value: &str) {
    out.push_str(name);
    if !labels.is_empty() {
        out.push('{');
        for (i, (k, v)) in labels.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            let _ = write!(out, "{k}=\"");
            for c in v.chars() {
                match c {
                    '\\' => out.push_str("\\\\"),
                    '"' => out.push_str("\\\""),
                    '\n' => out.push_str("\\n"),
                    c => out.push(c),
                }
            }
            out.push('"');
        }
        out.push('}');
    }
    let _ = writeln!(out, " {value}");
}

#[cfg(test)]
mod tests {
    use super::*;

    struct At(Timestamp);

    impl Clock for At {
        fn now(&self) -> Timestamp {
            self.0
        }
    }

    fn t(s: &str) -> Timestamp {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn metrics() -> WatchMetrics {
        let config = WatchConfig {
            jitter: 0.0,
            ..WatchConfig::default()
        };
        WatchMetrics::new(Arc::new(At(t("2024-03-01T09:00:00Z"))), &config)
    }

    /// One sample of the text format: name, labels, value.
    type Sample = (String, BTreeMap<String, String>, f64);

    /// Parses the text exposition format strictly: `# HELP` and `# TYPE`
    /// once per family, before its samples; each sample `name{k="v",…}
    /// value` of a declared family, its label values unescaped.
    fn parse(text: &str) -> Result<(BTreeMap<String, String>, Vec<Sample>), String> {
        let mut types = BTreeMap::new();
        let mut helps = BTreeMap::new();
        let mut samples = Vec::new();
        let name_ok = |n: &str| {
            !n.is_empty()
                && n.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
                && !n.starts_with(|c: char| c.is_ascii_digit())
        };
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# HELP ") {
                let (name, _) = rest.split_once(' ').ok_or(line)?;
                if helps.insert(name.to_owned(), ()).is_some() {
                    return Err(format!("HELP twice: {line}"));
                }
                continue;
            }
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let (name, kind) = rest.split_once(' ').ok_or(line)?;
                if !["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind) {
                    return Err(format!("bad type: {line}"));
                }
                if types.insert(name.to_owned(), kind.to_owned()).is_some() {
                    return Err(format!("TYPE twice: {line}"));
                }
                continue;
            }
            if line.starts_with('#') || line.is_empty() {
                return Err(format!("unexpected line: {line:?}"));
            }
            let (name, rest) = match line.find(['{', ' ']) {
                Some(i) => line.split_at(i),
                None => return Err(format!("no value: {line}")),
            };
            if !name_ok(name) || !types.contains_key(name) {
                return Err(format!("undeclared or bad name: {line}"));
            }
            let mut labels = BTreeMap::new();
            let mut rest = rest;
            if let Some(after) = rest.strip_prefix('{') {
                let mut chars = after.char_indices().peekable();
                let end;
                loop {
                    let start = chars.peek().map(|(i, _)| *i).ok_or(line)?;
                    if after[start..].starts_with('}') {
                        end = Some(start + 1);
                        break;
                    }
                    let eq = after[start..].find("=\"").ok_or(line)? + start;
                    let key = &after[start..eq];
                    if !name_ok(key) {
                        return Err(format!("bad label name: {line}"));
                    }
                    while chars.peek().is_some_and(|(i, _)| *i < eq + 2) {
                        chars.next();
                    }
                    let mut value = String::new();
                    loop {
                        match chars.next().ok_or(line)? {
                            (_, '\\') => match chars.next().ok_or(line)?.1 {
                                'n' => value.push('\n'),
                                c @ ('\\' | '"') => value.push(c),
                                _ => return Err(format!("bad escape: {line}")),
                            },
                            (_, '"') => break,
                            (_, c) => value.push(c),
                        }
                    }
                    labels.insert(key.to_owned(), value);
                    match chars.next().ok_or(line)? {
                        (_, ',') => {}
                        (i, '}') => {
                            end = Some(i + 1);
                            break;
                        }
                        _ => return Err(format!("bad label list: {line}")),
                    }
                }
                rest = &after[end.ok_or(line)?..];
            }
            let value = rest.strip_prefix(' ').ok_or(line)?;
            let value: f64 = value.parse().map_err(|_| format!("bad value: {line}"))?;
            samples.push((name.to_owned(), labels, value));
        }
        Ok((types, samples))
    }

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn the_exposition_parses_and_carries_each_family_with_its_labels() {
        let m = metrics();
        m.started();
        m.call("GetNewMandates", CallOutcome::Ok);
        m.call("GetNewMandates", CallOutcome::Ok);
        m.call("UpdateRepair", CallOutcome::Unavailable);
        m.retry("UpdateRepair");
        m.succeeded(Job::WorkOrders);
        m.failed(Job::Claims, &AgoraError::transport("reset"));
        let gauges = Gauges {
            outbox: vec![(OutboxState::Pending, 2), (OutboxState::InDoubt, 1)],
            webhook_pending: vec![("planning \"a\"\nb\\".to_owned(), 3)],
        };
        let text = m.render_at(t("2024-03-01T09:00:30Z"), &gauges);
        let (types, samples) = parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        for (name, kind) in [
            ("agora_calls_total", "counter"),
            ("agora_call_retries_total", "counter"),
            ("agora_outbox_entries", "gauge"),
            ("agora_loop_last_success_age_seconds", "gauge"),
            ("agora_loop_healthy", "gauge"),
            ("agora_webhook_events_pending", "gauge"),
        ] {
            assert_eq!(types.get(name).map(String::as_str), Some(kind), "{name}");
        }
        let find = |name: &str, l: &[(&str, &str)]| {
            samples
                .iter()
                .find(|(n, ls, _)| n == name && *ls == labels(l))
                .map(|(_, _, v)| *v)
        };
        assert_eq!(
            find(
                "agora_calls_total",
                &[("route", "GetNewMandates"), ("outcome", "ok")]
            ),
            Some(2.0)
        );
        assert_eq!(
            find(
                "agora_calls_total",
                &[("route", "UpdateRepair"), ("outcome", "unavailable")]
            ),
            Some(1.0)
        );
        assert_eq!(
            find("agora_call_retries_total", &[("route", "UpdateRepair")]),
            Some(1.0)
        );
        assert_eq!(
            find("agora_outbox_entries", &[("state", "in-doubt")]),
            Some(1.0)
        );
        assert_eq!(
            find(
                "agora_loop_last_success_age_seconds",
                &[("loop", "work-orders")]
            ),
            Some(30.0)
        );
        assert_eq!(
            find("agora_loop_last_success_age_seconds", &[("loop", "claims")]),
            None,
            "never succeeded"
        );
        assert_eq!(
            find("agora_loop_healthy", &[("loop", "work-orders")]),
            Some(1.0)
        );
        assert_eq!(find("agora_loop_healthy", &[("loop", "claims")]), Some(0.0));
        assert_eq!(
            find(
                "agora_webhook_events_pending",
                &[("webhook", "planning \"a\"\nb\\")]
            ),
            Some(3.0),
            "label values escaped and read back"
        );
    }

    #[test]
    fn a_loop_is_healthy_while_its_last_run_succeeded_within_its_interval_and_slack() {
        let m = metrics();
        assert!(
            !m.health_at(t("2024-03-01T09:00:00Z")).healthy,
            "not started"
        );
        m.started();
        // Before any run: healthy until interval + slack after the start
        // (the outbox's: 5 + 60 s).
        assert!(m.health_at(t("2024-03-01T09:01:05Z")).healthy);
        let late = m.health_at(t("2024-03-01T09:01:06Z"));
        assert!(!late.healthy);
        assert_eq!(late.first_unhealthy().unwrap().name, "outbox");

        for job in [Job::WorkOrders, Job::PartOrders, Job::Claims, Job::Outbox] {
            m.succeeded(job);
        }
        assert!(m.health_at(t("2024-03-01T09:00:01Z")).healthy);
        m.failed(Job::WorkOrders, &AgoraError::transport("reset"));
        let failing = m.health_at(t("2024-03-01T09:00:01Z"));
        assert!(!failing.healthy, "a failed last run at once");
        let wo = failing.first_unhealthy().unwrap();
        assert_eq!(wo.name, "work-orders");
        assert!(wo.last_error.as_deref().unwrap().contains("reset"));
        assert_eq!(wo.last_success, Some(t("2024-03-01T09:00:00Z")));
        m.succeeded(Job::WorkOrders);
        // The outbox (every 5 s, slack 60 s) is late after 65 s.
        assert!(m.health_at(t("2024-03-01T09:01:05Z")).healthy);
        let stale = m.health_at(t("2024-03-01T09:01:06Z"));
        assert_eq!(stale.first_unhealthy().unwrap().name, "outbox");
        assert!(
            stale
                .first_unhealthy()
                .unwrap()
                .reason
                .as_deref()
                .unwrap()
                .contains("no success for 66 s")
        );
    }
}
