//! The simulator's command-line options and its serving loop, shared by
//! the `agora-sim` binary and `agora sim`: one set of flags, one
//! configuration rule, one way to stop (SIGINT or SIGTERM) and one set of
//! exit codes. Behind the `bin` feature (it needs clap).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use agora_mock::{Autopilot, SimConfig, SimConfigFile, Simulator};

use crate::{AdminToken, ServeSettings, Shutdown, SimServer};

/// Serves a local, stateful AgoraPlus for development and tests.
#[derive(Debug, Clone, clap::Args)]
pub struct SimOptions {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8787")]
    pub listen: SocketAddr,
    /// An account's api_key (repeatable). Without any: one account, `demo`.
    #[arg(long = "tenant", value_name = "KEY")]
    pub tenants: Vec<String>,
    /// An account that authenticates but is locked (403) (repeatable).
    #[arg(long = "locked", value_name = "KEY")]
    pub locked: Vec<String>,
    /// Seed of all generated data (default 0).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Spare parts generated per OEM (products: a tenth), made on demand
    /// (default 1000).
    #[arg(long)]
    pub catalog_size: Option<u64>,
    /// A JSON configuration file: tenants, locked, seed, catalog_size,
    /// product_key_ttl_seconds, rules (OEM rule sets), profiles (answer
    /// profiles by account key), autopilot (`true` or its settings). Flags
    /// add to it.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Turn off the guards that absorb re-sends: a second claim for a
    /// file, a second order of a part, a second invoice link to a draft
    /// are applied (and journaled as duplicates, `GET /_sim/journal`), and
    /// an UpdateRepair replaces the status history instead of merging it.
    /// For chaos runs.
    #[arg(long)]
    pub apply_duplicates: bool,
    /// Play the OEM by itself for every account (or those the
    /// configuration file's `autopilot.accounts` names): new work orders
    /// arrive, ordered parts ship (208) or become unavailable (202),
    /// transferred claims are decided (NOTCONFORM or CLOSEDACCEPTED), and
    /// draft invoices are issued monthly, on the simulator's clock
    /// (`/_sim/clock`), from the seed. The settings are the configuration
    /// file's `autopilot` object (defaults: 12 work orders an hour, parts
    /// after 10 minutes, 10% unavailable, claims decided after 15 minutes,
    /// 20% NOTCONFORM).
    #[arg(long)]
    pub autopilot: bool,
    /// A token that reaches every account's `/_sim` controls, sent as
    /// `Authorization: Bearer TOKEN` (with an `api_key` header naming the
    /// account, or none for the whole simulator's clock). Off by default:
    /// each control call then needs the account's `api_key` header.
    #[arg(
        long,
        value_name = "TOKEN",
        env = "AGORA_SIM_ADMIN_TOKEN",
        hide_env_values = true
    )]
    pub admin_token: Option<String>,
    /// Allow a listen address outside loopback (anyone who reaches it can
    /// call the simulator); a warning is printed.
    #[arg(long)]
    pub allow_remote: bool,
    /// Seconds a client has to send a request's whole head (request line
    /// and headers) before its connection is closed.
    #[arg(long, value_name = "SECONDS", default_value_t = 10)]
    pub header_timeout: u64,
    /// Seconds a request has to be received (body included) and answered,
    /// or it is answered 408.
    // Named apart from the client's `--request-timeout` of `agora`.
    #[arg(long, value_name = "SECONDS", default_value_t = 60)]
    pub server_request_timeout: u64,
    /// Serve the recordings under DIR (`agora record`'s files, at any
    /// depth) instead of the simulator: each request gets the first
    /// unserved recording that matches it, or 501.
    #[arg(long, value_name = "DIR", conflicts_with_all = ["tenants", "locked", "seed", "catalog_size", "apply_duplicates", "autopilot", "admin_token"])]
    pub replay: Option<PathBuf>,
}

/// Why serving stopped short.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The configuration (file or flags) is unusable.
    #[error("{0}")]
    Config(String),
    /// The address cannot be listened on.
    #[error("cannot listen on {address}: {reason}")]
    Listen {
        /// The address.
        address: SocketAddr,
        /// Why.
        reason: String,
    },
    /// The server failed while stopping.
    #[error("{0}")]
    Stop(String),
}

impl ServeError {
    /// The process's exit code: 2 for a bad configuration (as a usage
    /// error), 3 for an address that cannot be listened on, 1 for a failed
    /// stop.
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Config(_) => 2,
            Self::Listen { .. } => 3,
            Self::Stop(_) => 1,
        }
    }

    /// A stable name for the failure (`config`, `listen`, `stop`).
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Config(_) => "config",
            Self::Listen { .. } => "listen",
            Self::Stop(_) => "stop",
        }
    }
}

impl SimOptions {
    /// The simulator's configuration: the file's, then the flags added.
    pub fn sim_config(&self) -> Result<SimConfig, String> {
        let mut config = SimConfig {
            tenants: Vec::new(),
            ..SimConfig::default()
        };
        if let Some(path) = &self.config {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            config = SimConfigFile::from_json(&text)?.apply(config)?;
        }
        config.tenants.extend(self.tenants.iter().cloned());
        config.locked.extend(self.locked.iter().cloned());
        if let Some(seed) = self.seed {
            config.seed = seed;
        }
        if let Some(size) = self.catalog_size {
            config.catalog_size = size;
        }
        config.apply_duplicates |= self.apply_duplicates;
        if self.autopilot && config.autopilot.is_none() {
            config.autopilot = Some(Autopilot::default());
        }
        if config.tenants.is_empty() {
            config.tenants.push("demo".to_owned());
        }
        config.check()?;
        Ok(config)
    }

    /// What is served, for the line printed once listening: `count` is
    /// what `serve` handed to `ready`.
    pub fn banner(&self, count: usize) -> String {
        match &self.replay {
            Some(dir) => format!(
                "replaying {count} recording(s) from {}; Ctrl-C to stop",
                dir.display()
            ),
            None => format!("serving AgoraPlus for {count} account(s); Ctrl-C to stop"),
        }
    }

    /// The server's settings: the admin token and the timeouts.
    pub fn serve_settings(&self) -> Result<ServeSettings, String> {
        if self.header_timeout == 0 || self.server_request_timeout == 0 {
            return Err(
                "--header-timeout and --server-request-timeout must be at least 1 second"
                    .to_owned(),
            );
        }
        Ok(ServeSettings {
            admin_token: self
                .admin_token
                .as_deref()
                .map(AdminToken::new)
                .transpose()?,
            header_timeout: Duration::from_secs(self.header_timeout),
            request_timeout: Duration::from_secs(self.server_request_timeout),
        })
    }

    /// Refuses a listen address outside loopback without `--allow-remote`;
    /// with it, the warning to print.
    pub fn remote_warning(&self) -> Result<Option<String>, String> {
        if self.listen.ip().is_loopback() {
            return Ok(None);
        }
        if !self.allow_remote {
            return Err(format!(
                "{} is not a loopback address: anyone who reaches it could call the simulator;                  listen on 127.0.0.1, or pass --allow-remote to mean it",
                self.listen
            ));
        }
        Ok(Some(format!(
            "warning: listening on {}, outside loopback: anyone who reaches it can call the              simulator with an account's key{}",
            self.listen,
            if self.admin_token.is_some() {
                " or the admin token (sent in clear over plain HTTP)"
            } else {
                ""
            }
        )))
    }

    /// Serves until SIGINT or SIGTERM. `ready` hears the URL and the number
    /// of accounts (or of recordings replayed) once the server listens and
    /// the signals are caught (a signal sent as soon as the URL is read
    /// stops it cleanly).
    pub async fn serve(&self, ready: impl FnOnce(&str, usize)) -> Result<(), ServeError> {
        if let Some(warning) = self.remote_warning().map_err(ServeError::Config)? {
            eprintln!("{warning}");
        }
        if let Some(dir) = &self.replay {
            return self.serve_replay(dir, ready).await;
        }
        let config = self.sim_config().map_err(ServeError::Config)?;
        let settings = self.serve_settings().map_err(ServeError::Config)?;
        let accounts = config.tenants.len();
        let server = SimServer::start_with(Simulator::new(config), self.listen, settings)
            .await
            .map_err(|e| self.listen_error(e))?;
        let url = server.url();
        until_signal(&url, accounts, ready, server.shutdown()).await
    }
}

impl SimOptions {
    async fn serve_replay(
        &self,
        dir: &std::path::Path,
        ready: impl FnOnce(&str, usize),
    ) -> Result<(), ServeError> {
        let replay =
            crate::replay::Replay::from_dir(dir).map_err(|e| ServeError::Config(e.to_string()))?;
        let count = replay.len();
        let server = crate::replay::ReplayServer::start(replay, self.listen)
            .await
            .map_err(|e| self.listen_error(e))?;
        let url = server.url();
        until_signal(&url, count, ready, server.shutdown()).await
    }

    /// The error of a server that could not listen on the address asked.
    fn listen_error(&self, e: impl std::fmt::Display) -> ServeError {
        ServeError::Listen {
            address: self.listen,
            reason: e.to_string(),
        }
    }
}

/// Catches SIGINT and SIGTERM, tells `ready` the server's `url` and
/// `count`, and, at the first signal, stops the server with `stop`.
async fn until_signal(
    url: &str,
    count: usize,
    ready: impl FnOnce(&str, usize),
    stop: impl std::future::Future<Output = std::io::Result<()>>,
) -> Result<(), ServeError> {
    let shutdown = Shutdown::install();
    ready(url, count);
    shutdown.wait().await;
    stop.await.map_err(|e| ServeError::Stop(e.to_string()))
}
