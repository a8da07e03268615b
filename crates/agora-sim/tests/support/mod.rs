//! Helpers shared by the simulator's HTTP tests: a server on a free port,
//! and calls whose answer is always JSON.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

use std::net::SocketAddr;

use agora_mock::{SimConfig, Simulator};
use agora_sim::SimServer;
use reqwest::header::HeaderMap;
use serde_json::Value;

/// The simulator of `config`, served on a free loopback port.
pub async fn serve(config: SimConfig) -> SimServer {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let addr: SocketAddr = "127.0.0.1:0".parse().unwrap();
    SimServer::start(Simulator::new(config), addr)
        .await
        .unwrap()
}

/// An answer: its status, headers and body.
pub struct Got {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Value,
}

/// Calls to one server.
pub struct Http {
    base: String,
    client: reqwest::Client,
}

impl Http {
    pub fn new(server: &SimServer) -> Self {
        Self {
            base: server.url(),
            client: reqwest::Client::new(),
        }
    }

    /// `method path` with the key in the `api_key` header and a JSON body;
    /// the answer must be JSON.
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        key: Option<&str>,
        body: Option<Value>,
    ) -> Got {
        let mut req = self
            .client
            .request(method.parse().unwrap(), format!("{}{path}", self.base));
        if let Some(k) = key {
            req = req.header("api_key", k);
        }
        if let Some(b) = body {
            req = req
                .header("content-type", "application/json")
                .body(b.to_string());
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp.text().await.unwrap();
        let body = serde_json::from_str(&text)
            .unwrap_or_else(|_| panic!("{method} {path}: not JSON: {text:?}"));
        Got {
            status,
            headers,
            body,
        }
    }

    pub async fn get(&self, path: &str, key: &str) -> Got {
        self.call("GET", path, Some(key), None).await
    }

    pub async fn post(&self, path: &str, key: &str, body: Value) -> Got {
        self.call("POST", path, Some(key), Some(body)).await
    }
}

impl Http {
    /// `method path` with the headers given and no body; the answer must
    /// be JSON.
    pub async fn call_with(&self, method: &str, path: &str, headers: &[(&str, &str)]) -> Got {
        self.send(method, path, headers, None).await
    }

    /// `method path` with the headers given and a JSON body.
    pub async fn call_json(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Value,
    ) -> Got {
        self.send(method, path, headers, Some(body)).await
    }

    async fn send(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<Value>,
    ) -> Got {
        let mut req = self
            .client
            .request(method.parse().unwrap(), format!("{}{path}", self.base));
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        if let Some(b) = body {
            req = req
                .header("content-type", "application/json")
                .body(b.to_string());
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp.text().await.unwrap();
        let body = serde_json::from_str(&text)
            .unwrap_or_else(|_| panic!("{method} {path}: not JSON: {text:?}"));
        Got {
            status,
            headers,
            body,
        }
    }
}
