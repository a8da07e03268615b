//! A small W3C WebDriver client over reqwest, for the console's browser
//! test: chromedriver started on a free port, one headless Chromium
//! session in a fresh profile, and the few commands the test needs
//! (navigate, find, click, type, read text, run a script, screenshot).
//!
//! Our own rather than fantoccini: fantoccini brings hyper-rustls (its own
//! TLS set-up beside the workspace's one rustls), the `webdriver` crate
//! and cookie/time/url for a protocol of a few JSON calls over plain HTTP
//! to loopback, which reqwest, already in the workspace, speaks.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// Chromium and its driver, as Debian installs them.
const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// The key W3C WebDriver names an element reference by.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// The one line said when Chromium or its driver is missing.
pub(crate) fn missing_browser() -> Option<String> {
    let missing: Vec<&str> = [CHROMIUM, CHROMEDRIVER]
        .into_iter()
        .filter(|p| !Path::new(p).is_file())
        .collect();
    (!missing.is_empty()).then(|| {
        format!(
            "missing {} (from Debian's packages chromium and chromium-driver): run \
             `apt-get install -y chromium chromium-driver` as root, or the tests with \
             `cargo xtask test`, which installs them",
            missing.join(" and ")
        )
    })
}

/// chromedriver and one headless Chromium session it drives; both end
/// when dropped.
pub(crate) struct Browser {
    driver: Child,
    base: String,
    session: String,
    http: reqwest::Client,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Starts chromedriver on a free port and opens a session of headless
    /// Chromium in a new profile directory, within `deadline`.
    pub(crate) async fn start(deadline: Duration) -> Self {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut driver = Command::new(CHROMEDRIVER)
            .arg("--port=0")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let port = announced_port(&mut driver, deadline);
        let base = format!("http://127.0.0.1:{port}");
        let profile = tempfile::Builder::new()
            .prefix("agora-console-chromium-")
            .tempdir()
            .unwrap();
        let args = [
            "--headless".to_owned(),
            "--no-sandbox".to_owned(),
            "--disable-gpu".to_owned(),
            "--disable-quic".to_owned(),
            "--no-first-run".to_owned(),
            "--disable-background-networking".to_owned(),
            "--disable-component-update".to_owned(),
            "--disable-sync".to_owned(),
            "--disable-dev-shm-usage".to_owned(),
            "--window-size=1280,1600".to_owned(),
            format!("--user-data-dir={}", profile.path().display()),
        ];
        let http = reqwest::Client::new();
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": CHROMIUM, "args": args},
        }}});
        let answer = send(&http, "POST", &format!("{base}/session"), Some(caps)).await;
        let session = answer["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {answer}"))
            .to_owned();
        Self {
            driver,
            base,
            session,
            http,
            _profile: profile,
        }
    }

    async fn cmd(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}/session/{}{path}", self.base, self.session);
        send(&self.http, method, &url, body).await
    }

    /// Opens `url`.
    pub(crate) async fn goto(&self, url: &str) {
        self.cmd("POST", "/url", Some(json!({"url": url}))).await;
    }

    /// The elements matching a CSS selector (none is not an error).
    pub(crate) async fn find_all(&self, css: &str) -> Vec<String> {
        let found = self
            .cmd(
                "POST",
                "/elements",
                Some(json!({"using": "css selector", "value": css})),
            )
            .await;
        found
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|e| e[ELEMENT].as_str().map(str::to_owned))
            .collect()
    }

    /// The first element matching `css`, waiting for it up to `within`.
    pub(crate) async fn wait_for(&self, css: &str, within: Duration) -> String {
        let start = Instant::now();
        loop {
            if let Some(e) = self.find_all(css).await.into_iter().next() {
                return e;
            }
            assert!(
                start.elapsed() < within,
                "no element `{css}` after {within:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits up to `within` until the text of the element `css` contains
    /// `text`; returns that text.
    pub(crate) async fn wait_for_text(&self, css: &str, text: &str, within: Duration) -> String {
        let start = Instant::now();
        loop {
            if let Some(e) = self.find_all(css).await.into_iter().next() {
                let now = self.text(&e).await;
                if now.contains(text) {
                    return now;
                }
                assert!(
                    start.elapsed() < within,
                    "`{css}` does not say `{text}` after {within:?}: {now:?}"
                );
            } else {
                assert!(
                    start.elapsed() < within,
                    "no element `{css}` after {within:?}"
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Clicks an element.
    pub(crate) async fn click(&self, element: &str) {
        self.cmd(
            "POST",
            &format!("/element/{element}/click"),
            Some(json!({})),
        )
        .await;
    }

    /// Empties a field and types `text` into it.
    pub(crate) async fn fill(&self, element: &str, text: &str) {
        self.cmd(
            "POST",
            &format!("/element/{element}/clear"),
            Some(json!({})),
        )
        .await;
        self.cmd(
            "POST",
            &format!("/element/{element}/value"),
            Some(json!({"text": text})),
        )
        .await;
    }

    /// An element's rendered text.
    pub(crate) async fn text(&self, element: &str) -> String {
        let v = self
            .cmd("GET", &format!("/element/{element}/text"), None)
            .await;
        v.as_str().unwrap_or_default().to_owned()
    }

    /// Runs `script` in the page (synchronously) with `args`.
    pub(crate) async fn run(&self, script: &str, args: Value) -> Value {
        self.cmd(
            "POST",
            "/execute/sync",
            Some(json!({"script": script, "args": args})),
        )
        .await
    }

    /// Saves a PNG screenshot of the page to `path`.
    pub(crate) async fn screenshot(&self, path: &Path) {
        let shot = self.cmd("GET", "/screenshot", None).await;
        let png = decode_base64(shot.as_str().unwrap_or_default());
        assert!(png.starts_with(b"\x89PNG"), "not a PNG");
        std::fs::write(path, png).unwrap();
    }

    /// Ends the session (closing Chromium), then chromedriver.
    pub(crate) async fn close(mut self) {
        self.cmd("DELETE", "", None).await;
        self.session.clear();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            // A test that failed half-way: end the session over a plain
            // socket (no runtime here) so that Chromium closes too.
            delete_session(&self.base, &self.session);
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// The port chromedriver says it listens on (`--port=0`: a free one).
fn announced_port(driver: &mut Child, deadline: Duration) -> u16 {
    let out = driver.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines() {
            let Ok(line) = line else { break };
            if let Some(port) = line
                .split("started successfully on port ")
                .nth(1)
                .and_then(|p| p.trim_end_matches('.').trim().parse::<u16>().ok())
            {
                let _ = tx.send(port);
            }
        }
    });
    rx.recv_timeout(deadline)
        .unwrap_or_else(|_| panic!("chromedriver did not say its port within {deadline:?}"))
}

/// One WebDriver call: its `value`, or a panic naming the error.
async fn send(http: &reqwest::Client, method: &str, url: &str, body: Option<Value>) -> Value {
    let mut req = http.request(method.parse().unwrap(), url);
    if let Some(b) = body {
        req = req
            .header("content-type", "application/json")
            .body(b.to_string());
    }
    let resp = req
        .send()
        .await
        .unwrap_or_else(|e| panic!("{method} {url}: {e}"));
    let status = resp.status();
    let bytes = resp.bytes().await.unwrap();
    let v: Value = serde_json::from_slice(&bytes)
        .unwrap_or_else(|e| panic!("{method} {url}: {e}: {}", String::from_utf8_lossy(&bytes)));
    assert!(
        status.is_success(),
        "{method} {url}: {status}: {}",
        v["value"]
    );
    v["value"].clone()
}

fn delete_session(base: &str, session: &str) {
    let addr = base.trim_start_matches("http://");
    if let Ok(mut s) = std::net::TcpStream::connect(addr) {
        let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
        let _ = write!(
            s,
            "DELETE /session/{session} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
        );
        let _ = s.read_to_end(&mut Vec::new());
    }
}

/// Standard base64 (the screenshot's encoding) to bytes.
fn decode_base64(text: &str) -> Vec<u8> {
    let value = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0);
    for v in text.bytes().filter_map(value) {
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    out
}

/// Where the test's screenshots go: `target/console-screenshots`.
pub(crate) fn screenshot_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    let dir = target.join("console-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
