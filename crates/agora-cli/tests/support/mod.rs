//! What the `agora` binary's tests share: a simulator served over loopback
//! with one account, a store in a directory of the test's own, and the
//! binary run against both.
#![allow(dead_code, clippy::unwrap_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::Duration;

use agora_mock::{SimConfig, Simulator};
use agora_sim::SimServer;
use serde_json::Value;

/// A simulator serving one account, and a local store beside it.
pub(crate) struct Env {
    /// The simulator, served on 127.0.0.1.
    pub(crate) server: SimServer,
    /// The account's api_key (the first of the configuration's tenants).
    pub(crate) key: String,
    /// The local store (a SQLite file in `dir`).
    pub(crate) db: PathBuf,
    /// A configuration file the binary reads (`AGORA_CONFIG`), if any.
    pub(crate) config: Option<PathBuf>,
    /// The directory of `db`, removed when the test ends.
    pub(crate) dir: tempfile::TempDir,
}

impl Env {
    /// Serves a simulator of `config` and makes a directory named after
    /// `name` for the store.
    pub(crate) async fn start(name: &str, config: SimConfig) -> Self {
        let key = config.tenants[0].clone();
        let server = SimServer::start(Simulator::new(config), ([127, 0, 0, 1], 0).into())
            .await
            .unwrap();
        let dir = tempfile::Builder::new()
            .prefix(&format!("agora-cli-{name}-"))
            .tempdir()
            .unwrap();
        Self {
            server,
            key,
            db: dir.path().join("agora.db"),
            config: None,
            dir,
        }
    }

    /// The simulator.
    pub(crate) fn sim(&self) -> &Simulator {
        self.server.simulator()
    }

    /// `agora ARGS` against the simulator and the store, the environment
    /// otherwise cleared of agora's variables.
    pub(crate) fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_agora"));
        c.args(args)
            .env("AGORA_BASE_URL", self.server.url())
            .env("AGORA_API_KEY", &self.key)
            .env("AGORA_DB", &self.db)
            .env_remove("AGORA_ENV")
            .env_remove("AGORA_LOG");
        match &self.config {
            Some(path) => c.env("AGORA_CONFIG", path),
            None => c.env_remove("AGORA_CONFIG"),
        };
        c
    }

    /// Runs `agora ARGS` to its end.
    pub(crate) async fn run(&self, args: &[&str]) -> Output {
        let mut c = self.command(args);
        tokio::task::spawn_blocking(move || c.output().unwrap())
            .await
            .unwrap()
    }

    /// `agora --json ARGS`, which must succeed: its output.
    pub(crate) async fn json(&self, args: &[&str]) -> Value {
        let mut full = vec!["--json"];
        full.extend_from_slice(args);
        let out = self.run(&full).await;
        assert!(out.status.success(), "{args:?}: {}", text(&out));
        json_of(&out)
    }
}

/// Standard output then standard error, as text.
pub(crate) fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Standard output read as JSON.
pub(crate) fn json_of(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(o)))
}

/// Starts `command`, a server that prints its URL on its first line of
/// standard output (`agora sim`, `agora record`): the child and the URL,
/// which must be on loopback.
pub(crate) fn served(command: &mut Command) -> (Child, String) {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line.trim().to_owned();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    (child, url)
}

/// Sends `signal` (`-TERM`, `-INT`) to `child` and waits for it to end.
pub(crate) fn stop(child: &mut Child, signal: &str) -> ExitStatus {
    let sent = Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    child.wait().unwrap()
}

/// A GET over plain HTTP/1.1: the status, the content type and the body.
pub(crate) fn get(addr: &str, path: &str) -> (u16, String, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut text = String::new();
    stream.read_to_string(&mut text).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    let content_type = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-type: ")
                .map(str::to_owned)
        })
        .unwrap_or_default();
    (status, content_type, body.to_owned())
}
