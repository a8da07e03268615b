//! # agora-tests
//!
//! Workspace end-to-end tests: the HTTP client (`agora-http`) against the
//! simulator (`agora-sim`) over loopback. This library holds their shared
//! setup; the tests are under `tests/`. It is not shipped.

pub mod echo;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use agora_http::{AgoraClient, ApiKey, ClientConfig, Environment, RetryPolicy};
use agora_mock::{SimConfig, Simulator};
use agora_ports::Clock;
use agora_sim::SimServer;
use jiff::Timestamp;

/// A clock the test moves by hand.
#[derive(Debug)]
pub struct ManualClock(Mutex<Timestamp>);

impl ManualClock {
    /// A clock at `at`.
    pub fn at(at: Timestamp) -> Arc<Self> {
        Arc::new(Self(Mutex::new(at)))
    }

    /// Moves the clock forward.
    pub fn advance(&self, by: Duration) {
        let mut now = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *now += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        *self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// A simulator served on a free loopback port, with its clock.
pub async fn serve(config: SimConfig) -> (SimServer, Arc<ManualClock>) {
    let clock =
        ManualClock::at(Timestamp::from_second(1_709_283_600).unwrap_or(Timestamp::UNIX_EPOCH));
    let sim = Simulator::with_clock(config, clock.clone());
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
    let server = SimServer::start(sim, addr)
        .await
        .unwrap_or_else(|e| panic!("cannot start the simulator: {e}"));
    (server, clock)
}

/// A client of `server` for the account `key`, retrying fast.
pub fn client(server: &SimServer, key: &str) -> AgoraClient {
    let config = ClientConfig::new(Environment::Custom(server.url()), ApiKey::new(key)).with_retry(
        RetryPolicy {
            max_attempts: 6,
            initial_backoff: Duration::from_millis(1),
            max_backoff: Duration::from_millis(20),
            max_elapsed: Duration::from_secs(5),
        },
    );
    AgoraClient::new(config).unwrap_or_else(|e| panic!("cannot build the client: {e}"))
}
