//! Helpers shared by the HTTP client's tests.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use agora_domain::routes::Route;
use agora_http::{AgoraClient, ApiKey, ClientConfig, Environment, RetryPolicy, Sleeper};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use wiremock::matchers::{any, method, path_regex};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// The key every test client sends.
pub const KEY: &str = "test-key-0123456789abcdef";

/// Records the delays the client would have slept.
#[derive(Default)]
pub struct Recorder(pub Mutex<Vec<Duration>>);

impl Sleeper for Recorder {
    fn sleep(
        &self,
        d: Duration,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> {
        self.0.lock().unwrap().push(d);
        Box::pin(async {})
    }
}

impl Recorder {
    /// The delays recorded so far.
    pub fn delays(&self) -> Vec<Duration> {
        self.0.lock().unwrap().clone()
    }
}

/// A client of `base`, with recorded (not real) sleeps.
pub fn client_for(base: &str) -> (AgoraClient, Arc<Recorder>) {
    client_with(base, RetryPolicy::default())
}

/// A client of `base` with a retry policy.
pub fn client_with(base: &str, retry: RetryPolicy) -> (AgoraClient, Arc<Recorder>) {
    let recorder = Arc::new(Recorder::default());
    let config = ClientConfig::new(Environment::Custom(base.to_owned()), ApiKey::new(KEY))
        .with_retry(retry)
        .with_timeouts(
            Duration::from_secs(2),
            Duration::from_secs(5),
            Duration::from_secs(5),
        );
    let client = AgoraClient::new(config)
        .unwrap()
        .with_sleeper(recorder.clone());
    (client, recorder)
}

/// A mock server whose unmatched requests fail the test when it drops.
pub async fn server() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(599))
        .with_priority(u8::MAX)
        .named("unexpected request")
        .expect(0)
        .mount(&server)
        .await;
    server
}

/// A success envelope around `data`.
pub fn ok(data: serde_json::Value) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(serde_json::json!({
        "ResponseStatus": "S", "IsValid": true, "ResponseMessage": null,
        "ResponseErrorMessage": null, "ResponseData": data
    }))
}

/// Reads a fixture of the domain crate's tests.
pub fn fixture(name: &str) -> serde_json::Value {
    let path = format!(
        "{}/../agora-domain/tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// A raw TCP server answering each connection with `answer(request_number)`
/// (raw bytes, then close); `None` closes without answering. Returns its
/// base URL and the count of requests it read.
pub async fn raw_server(
    answer: impl Fn(usize) -> Option<Vec<u8>> + Send + Sync + 'static,
) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let count = Arc::new(AtomicUsize::new(0));
    let seen = count.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            let n = seen.fetch_add(1, Ordering::SeqCst);
            let reply = answer(n);
            tokio::spawn(async move {
                let mut buf = vec![0u8; 64 * 1024];
                let mut got = Vec::new();
                // Read the head and any body announced by Content-Length.
                loop {
                    let Ok(k) = sock.read(&mut buf).await else {
                        return;
                    };
                    if k == 0 {
                        return;
                    }
                    got.extend_from_slice(&buf[..k]);
                    if let Some(end) = find(&got, b"\r\n\r\n") {
                        let head = String::from_utf8_lossy(&got[..end]).to_ascii_lowercase();
                        let len = head
                            .lines()
                            .find_map(|l| l.strip_prefix("content-length:"))
                            .and_then(|v| v.trim().parse::<usize>().ok())
                            .unwrap_or(0);
                        if got.len() >= end + 4 + len {
                            break;
                        }
                    }
                }
                if let Some(bytes) = reply {
                    let _ = sock.write_all(&bytes).await;
                }
                let _ = sock.shutdown().await;
            });
        }
    });
    (format!("http://{addr}"), count)
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// A server that answers every connection with `head` (status line and
/// headers, no length: the body runs until the connection closes), then
/// `start`, then `filler` over and over, forever. When the client drops the
/// connection (a write fails), the number of body bytes written goes to
/// the returned channel.
pub async fn endless(
    head: &'static str,
    start: Vec<u8>,
    filler: Vec<u8>,
) -> (String, tokio::sync::mpsc::UnboundedReceiver<u64>) {
    endless_paced(head, start, filler, None).await
}

/// As [`endless`], writing one `filler` every `pace` when given.
pub async fn endless_paced(
    head: &'static str,
    start: Vec<u8>,
    filler: Vec<u8>,
    pace: Option<Duration>,
) -> (String, tokio::sync::mpsc::UnboundedReceiver<u64>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (dropped, rx) = tokio::sync::mpsc::unbounded_channel();
    let start = Arc::new(start);
    let filler = Arc::new(filler);
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            let (start, filler, dropped) = (start.clone(), filler.clone(), dropped.clone());
            tokio::spawn(async move {
                let mut buf = vec![0u8; 16 * 1024];
                let mut got = Vec::new();
                while find(&got, b"\r\n\r\n").is_none() {
                    match sock.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(k) => got.extend_from_slice(&buf[..k]),
                    }
                }
                let mut sent = 0u64;
                let mut write = async |bytes: &[u8]| sock.write_all(bytes).await.is_ok();
                if !write(head.as_bytes()).await || !write(&start).await {
                    let _ = dropped.send(sent);
                    return;
                }
                sent += start.len() as u64;
                loop {
                    if let Some(pace) = pace {
                        tokio::time::sleep(pace).await;
                    }
                    if !write(&filler).await {
                        let _ = dropped.send(sent);
                        return;
                    }
                    sent += filler.len() as u64;
                }
            });
        }
    });
    (format!("http://{addr}"), rx)
}

/// A client (no retries) of a server that answers `answer` to `route`'s
/// path only (any delta path of a delta route), `times` calls.
pub async fn answering(
    route: Route,
    answer: ResponseTemplate,
    times: u64,
) -> (AgoraClient, MockServer) {
    let server = server().await;
    let matcher = if route.is_delta() {
        path_regex(format!("^{}/", route.path().split("/{").next().unwrap()))
    } else {
        path_regex(format!("^{}$", route.path()))
    };
    Mock::given(method(route.method().as_str()))
        .and(matcher)
        .respond_with(answer)
        .expect(times)
        .mount(&server)
        .await;
    let (client, _) = client_with(&server.uri(), RetryPolicy::none());
    (client, server)
}
