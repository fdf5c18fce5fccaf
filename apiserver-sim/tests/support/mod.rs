//! A plain HTTP client for the tests (hyper's, no TLS), JSON in and out, and a reader
//! of watch streams.
#![allow(dead_code)]

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Method, Request};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::rt::TokioExecutor;
use serde_json::{json, Value};
use weir_apiserver_sim::{ApiServer, Options};

pub struct Client {
    base: String,
    http: HyperClient<HttpConnector, Full<Bytes>>,
}

pub async fn start() -> (ApiServer, Client) {
    start_with(Options::default()).await
}

pub async fn start_with(options: Options) -> (ApiServer, Client) {
    let server = ApiServer::start(options).await.expect("server starts");
    let client = Client::new(&server.url());
    (server, client)
}

impl Client {
    pub fn new(base: &str) -> Client {
        Client {
            base: base.to_string(),
            http: HyperClient::builder(TokioExecutor::new()).build_http(),
        }
    }

    pub async fn send(
        &self,
        method: Method,
        path: &str,
        content_type: &str,
        body: &str,
        accept: &str,
    ) -> (u16, Value) {
        let req = Request::builder()
            .method(method)
            .uri(format!("{}{}", self.base, path))
            .header("content-type", content_type)
            .header("accept", accept)
            .body(Full::new(Bytes::from(body.to_string())))
            .expect("request");
        let resp = self.http.request(req).await.expect("response");
        let status = resp.status().as_u16();
        let bytes = resp.into_body().collect().await.expect("body").to_bytes();
        let v = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()));
        (status, v)
    }

    /// POST and return the response's Warning headers.
    pub async fn post_warnings(&self, path: &str, body: &Value) -> Vec<String> {
        let req = Request::builder()
            .method(Method::POST)
            .uri(format!("{}{}", self.base, path))
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(body.to_string())))
            .expect("request");
        let resp = self.http.request(req).await.expect("response");
        resp.headers()
            .get_all("warning")
            .iter()
            .map(|v| v.to_str().unwrap_or("").to_string())
            .collect()
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        self.send(
            Method::GET,
            path,
            "application/json",
            "",
            "application/json",
        )
        .await
    }
    pub async fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        self.send(
            Method::POST,
            path,
            "application/json",
            &body.to_string(),
            "application/json",
        )
        .await
    }
    pub async fn put(&self, path: &str, body: &Value) -> (u16, Value) {
        self.send(
            Method::PUT,
            path,
            "application/json",
            &body.to_string(),
            "application/json",
        )
        .await
    }
    pub async fn patch(&self, path: &str, content_type: &str, body: &Value) -> (u16, Value) {
        self.send(
            Method::PATCH,
            path,
            content_type,
            &body.to_string(),
            "application/json",
        )
        .await
    }
    pub async fn delete(&self, path: &str) -> (u16, Value) {
        self.send(
            Method::DELETE,
            path,
            "application/json",
            "",
            "application/json",
        )
        .await
    }
    pub async fn delete_with(&self, path: &str, opts: &Value) -> (u16, Value) {
        self.send(
            Method::DELETE,
            path,
            "application/json",
            &opts.to_string(),
            "application/json",
        )
        .await
    }

    /// Open a watch; events are read with [`Watch::next`].
    pub async fn watch(&self, path: &str) -> Watch {
        let req = Request::builder()
            .uri(format!("{}{}", self.base, path))
            .header("accept", "application/json")
            .body(Full::new(Bytes::new()))
            .expect("request");
        let resp = self.http.request(req).await.expect("response");
        assert_eq!(resp.status().as_u16(), 200, "watch {path}");
        Watch {
            body: resp.into_body(),
            buf: Vec::new(),
            ended: false,
        }
    }
}

pub struct Watch {
    body: Incoming,
    buf: Vec<u8>,
    pub ended: bool,
}

impl Watch {
    /// The next event, or None when the stream ended or nothing came within `wait`.
    pub async fn next_within(&mut self, wait: Duration) -> Option<Value> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            if let Some(i) = self.buf.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = self.buf.drain(..=i).collect();
                return Some(serde_json::from_slice(&line).expect("an event is JSON"));
            }
            if self.ended {
                return None;
            }
            match tokio::time::timeout_at(deadline, self.body.frame()).await {
                Err(_) => return None,
                Ok(None) => self.ended = true,
                Ok(Some(Err(_))) => self.ended = true,
                Ok(Some(Ok(f))) => {
                    if let Ok(d) = f.into_data() {
                        self.buf.extend_from_slice(&d);
                    }
                }
            }
        }
    }

    pub async fn next(&mut self) -> Value {
        self.next_within(Duration::from_secs(5))
            .await
            .expect("an event within 5 s")
    }

    /// The next event that is not a BOOKMARK.
    pub async fn next_change(&mut self) -> Value {
        loop {
            let e = self.next().await;
            if e["type"] != "BOOKMARK" {
                return e;
            }
        }
    }

    /// True when the stream ends within `wait` (events before the end are dropped).
    pub async fn ends_within(&mut self, wait: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + wait;
        while tokio::time::Instant::now() < deadline {
            if self
                .next_within(deadline - tokio::time::Instant::now())
                .await
                .is_none()
                && self.ended
            {
                return true;
            }
        }
        self.ended
    }
}

pub fn configmap(ns: &str, name: &str, data: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": ns}, "data": data})
}

pub fn rv(obj: &Value) -> u64 {
    obj["metadata"]["resourceVersion"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .expect("a resourceVersion")
}

/// A small CRD: `widgets.example.com`, namespaced, v1 with status and scale
/// subresources and a schema with a few rules.
pub fn widget_crd() -> Value {
    json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {
            "group": "example.com",
            "scope": "Namespaced",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "shortNames": ["wd"]},
            "versions": [{
                "name": "v1", "served": true, "storage": true,
                "subresources": {"status": {}, "scale": {"specReplicasPath": ".spec.replicas", "statusReplicasPath": ".status.replicas", "labelSelectorPath": ".status.selector"}},
                "additionalPrinterColumns": [{"name": "Replicas", "type": "integer", "jsonPath": ".spec.replicas"}],
                "schema": {"openAPIV3Schema": {
                    "type": "object",
                    "properties": {
                        "spec": {
                            "type": "object",
                            "required": ["replicas"],
                            "properties": {
                                "replicas": {"type": "integer", "minimum": 0},
                                "color": {"type": "string", "enum": ["red", "blue"]},
                                "size": {"type": "string", "default": "M", "maxLength": 3},
                                "port": {"x-kubernetes-int-or-string": true},
                                "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                                "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
                                "items": {"type": "array", "items": {"type": "object", "properties": {"name": {"type": "string"}}},
                                          "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]}
                            }
                        },
                        "status": {"type": "object", "properties": {
                            "replicas": {"type": "integer"}, "selector": {"type": "string"}, "phase": {"type": "string"}}}
                    }
                }}
            }]
        }
    })
}

pub fn widget(ns: &str, name: &str, replicas: i64) -> Value {
    json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": name, "namespace": ns}, "spec": {"replicas": replicas}})
}

pub const WIDGETS: &str = "/apis/example.com/v1/namespaces/default/widgets";

pub async fn install_widgets(c: &Client) {
    let (s, b) = c
        .post(
            "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
            &widget_crd(),
        )
        .await;
    assert_eq!(s, 201, "{b}");
}
