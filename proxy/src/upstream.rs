//! Upstream services: their endpoints (resolved, with passive health), each with its
//! pooled connections ([`crate::pool`]).
//!
//! Pools outlive route tables: a weight or route change builds a new table that points
//! at the same `ServicePool`s and the same clients, so no connection is dropped.

use crate::body::ProxyBody;
use crate::h1;
use crate::headers::Forwarded;
use crate::pool::{Connections, Outgoing, UpstreamBody, UpstreamError};
use arc_swap::ArcSwap;
use http::{Request, Response};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};
use weir_config::proxy::{Service, UpstreamProtocol};

/// How long an endpoint is skipped once ejected.
const EJECT_FOR: Duration = Duration::from_secs(2);
/// Consecutive connect failures that eject an endpoint (Envoy's outlier detection uses a
/// count too): one refused or timed-out connect can be a full accept queue, not a dead host.
const EJECT_AFTER: u32 = 3;

fn now_ms() -> u64 {
    static ORIGIN: OnceLock<Instant> = OnceLock::new();
    ORIGIN.get_or_init(Instant::now).elapsed().as_millis() as u64 + 1
}

/// One resolved address of a service.
#[derive(Debug)]
pub struct Endpoint {
    pub addr: SocketAddr,
    /// `ip:port`, used as the upstream URI authority.
    pub authority: http::uri::Authority,
    /// Passive health: skipped until this instant (ms since start) after a connect
    /// failure; 0 when live.
    ejected_until: AtomicU64,
    /// Connect failures since the last success.
    connect_failures: std::sync::atomic::AtomicU32,
    /// Pooled connections to this address.
    conns: Arc<Connections>,
}

impl Endpoint {
    pub fn new(addr: SocketAddr) -> Arc<Self> {
        let authority = addr
            .to_string()
            .parse()
            .expect("a socket address is a valid authority");
        Arc::new(Endpoint {
            addr,
            authority,
            ejected_until: AtomicU64::new(0),
            connect_failures: std::sync::atomic::AtomicU32::new(0),
            conns: Arc::default(),
        })
    }

    /// Sends a request made by [`Endpoint::outgoing`] over a pooled connection.
    pub async fn send(
        &self,
        connect_timeout: Duration,
        req: Outgoing,
    ) -> Result<Response<UpstreamBody>, UpstreamError> {
        match req {
            Outgoing::H1(req) => self.conns.send_h1(self.addr, connect_timeout, req).await,
            // Boxed: hyper's HTTP/2 client call is about 2 KB of future state, and without
            // the box every HTTP/1.1 request's future would carry (and move) it too.
            Outgoing::H2(req) => {
                Box::pin(self.conns.send_h2(self.addr, connect_timeout, *req)).await
            }
        }
    }

    /// The client's request as this endpoint's `protocol` wants it: for HTTP/1.1, encoded
    /// in origin form (`/path?query`, with the client's `host`, or this endpoint's when it
    /// sent none); for HTTP/2, in absolute form, the client's host as `:authority`.
    /// `forwarded`: the `x-forwarded-*` headers to add, for a request from a client.
    pub fn outgoing(
        &self,
        protocol: UpstreamProtocol,
        parts: &http::request::Parts,
        body: ProxyBody,
        forwarded: Option<Forwarded<'_>>,
    ) -> Outgoing {
        match protocol {
            UpstreamProtocol::Http1 => {
                let pq = parts.uri.path_and_query().map_or("/", |pq| pq.as_str());
                let body = match body {
                    ProxyBody::Full(b) => h1::OutBody::Bytes(b.unwrap_or_default()),
                    ProxyBody::Client(s) => h1::OutBody::Stream(s),
                    // Response bodies are never sent upstream.
                    ProxyBody::Upstream(_) => h1::OutBody::Bytes(bytes::Bytes::new()),
                };
                Outgoing::H1(h1::Request::encode(
                    &parts.method,
                    pq,
                    &parts.headers,
                    self.authority.as_str(),
                    body,
                    forwarded,
                ))
            }
            UpstreamProtocol::H2c => {
                let mut req = h2_request(parts, &self.authority, body);
                if let Some(f) = forwarded {
                    f.apply(req.headers_mut());
                }
                Outgoing::H2(Box::new(req))
            }
        }
    }

    /// [`Endpoint::outgoing`] and [`Endpoint::send`] in one step, for a request weir makes
    /// itself (no `x-forwarded-*` headers added).
    pub async fn send_request(
        &self,
        protocol: UpstreamProtocol,
        connect_timeout: Duration,
        req: Request<ProxyBody>,
    ) -> Result<Response<UpstreamBody>, UpstreamError> {
        let (parts, body) = req.into_parts();
        self.send(connect_timeout, self.outgoing(protocol, &parts, body, None))
            .await
    }

    /// Idle HTTP/1.1 connections pooled for this endpoint.
    pub fn idle_connections(&self) -> usize {
        self.conns.idle_count()
    }

    pub fn is_live(&self) -> bool {
        // 0: never ejected, the common case, known without reading the clock.
        let until = self.ejected_until.load(Ordering::Relaxed);
        until == 0 || until <= now_ms()
    }

    /// Counts a failed connect; the endpoint is ejected for a while after
    /// [`EJECT_AFTER`] in a row. Returns whether it is ejected now.
    pub fn connect_failed(&self) -> bool {
        let n = self.connect_failures.fetch_add(1, Ordering::Relaxed) + 1;
        if n >= EJECT_AFTER {
            self.connect_failures.store(0, Ordering::Relaxed);
            self.ejected_until
                .store(now_ms() + EJECT_FOR.as_millis() as u64, Ordering::Relaxed);
            return true;
        }
        false
    }

    /// Clears the failure count after a request got an answer. Reads first, so the common
    /// case (no failures) does not write a cache line shared across threads.
    pub fn answered(&self) {
        if self.connect_failures.load(Ordering::Relaxed) != 0 {
            self.connect_failures.store(0, Ordering::Relaxed);
        }
    }
}

/// The request in absolute form on the endpoint (hyper derives `:authority` from it),
/// the client's host as the authority when it sent one, as `host` does over HTTP/1.1.
fn h2_request(
    parts: &http::request::Parts,
    endpoint: &http::uri::Authority,
    body: ProxyBody,
) -> Request<ProxyBody> {
    let pq = parts
        .uri
        .path_and_query()
        .cloned()
        .unwrap_or_else(|| http::uri::PathAndQuery::from_static("/"));
    let mut req = Request::new(body);
    *req.method_mut() = parts.method.clone();
    *req.headers_mut() = parts.headers.clone();
    let host = req
        .headers_mut()
        .remove(http::header::HOST)
        .and_then(|h| http::uri::Authority::try_from(h.as_bytes()).ok());
    *req.uri_mut() = http::Uri::builder()
        .scheme("http")
        .authority(host.unwrap_or_else(|| endpoint.clone()))
        .path_and_query(pq)
        .build()
        .expect("scheme, authority and path are valid");
    *req.version_mut() = http::Version::HTTP_2;
    req
}

/// A named service: the endpoints of one version of an application.
pub struct ServicePool {
    pub name: String,
    pub protocol: UpstreamProtocol,
    /// As configured (`host:port`), for re-resolution and display.
    configured: Mutex<Vec<String>>,
    endpoints: ArcSwap<Vec<Arc<Endpoint>>>,
    next: AtomicUsize,
}

impl ServicePool {
    pub fn endpoints(&self) -> Arc<Vec<Arc<Endpoint>>> {
        self.endpoints.load_full()
    }

    pub fn configured(&self) -> Vec<String> {
        self.configured.lock().clone()
    }

    pub fn has_live_endpoint(&self) -> bool {
        self.endpoints.load().iter().any(|e| e.is_live())
    }

    /// Whether a live endpoint is left that this request has not tried yet.
    pub fn has_untried_endpoint(&self, tried: &[SocketAddr]) -> bool {
        self.endpoints
            .load()
            .iter()
            .any(|e| e.is_live() && !tried.contains(&e.addr))
    }

    /// The next live endpoint, round robin, avoiding `tried` where possible.
    pub fn pick(&self, tried: &[SocketAddr]) -> Option<Arc<Endpoint>> {
        let eps = self.endpoints.load();
        let n = eps.len();
        if n == 0 {
            return None;
        }
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        (0..n)
            .map(|i| &eps[(start + i) % n])
            .find(|e| e.is_live() && !tried.contains(&e.addr))
            .cloned()
    }

    /// Replaces the endpoint list, keeping the health state of addresses that stay.
    pub fn set_addresses(&self, addrs: Vec<SocketAddr>) {
        let old = self.endpoints.load();
        let new: Vec<Arc<Endpoint>> = addrs
            .into_iter()
            .map(|a| {
                old.iter()
                    .find(|e| e.addr == a)
                    .cloned()
                    .unwrap_or_else(|| Endpoint::new(a))
            })
            .collect();
        self.endpoints.store(Arc::new(new));
    }

    /// Resolves the configured endpoints (IP literals directly, names through DNS). A
    /// name that does not resolve is logged and contributes no address.
    pub async fn resolve(&self) {
        let configured = self.configured();
        let mut addrs = Vec::new();
        for ep in &configured {
            if let Ok(a) = ep.parse::<SocketAddr>() {
                addrs.push(a);
                continue;
            }
            match tokio::net::lookup_host(ep.as_str()).await {
                Ok(found) => addrs.extend(found),
                Err(e) => {
                    tracing::warn!(service = %self.name, endpoint = %ep, error = %e, "endpoint does not resolve")
                }
            }
        }
        addrs.dedup();
        self.set_addresses(addrs);
    }

    /// Whether any endpoint is a DNS name that needs re-resolving.
    pub fn needs_dns(&self) -> bool {
        self.configured
            .lock()
            .iter()
            .any(|e| e.parse::<SocketAddr>().is_err())
    }
}

/// Pools and clients that live across configuration reloads.
#[derive(Default)]
pub struct Upstreams {
    services: Mutex<HashMap<String, Arc<ServicePool>>>,
}

impl Upstreams {
    /// The pool for `name`, created or updated to `svc`'s endpoints. IP endpoints take
    /// effect at once; DNS names when [`ServicePool::resolve`] runs.
    pub fn service(&self, name: &str, svc: &Service) -> Arc<ServicePool> {
        let mut services = self.services.lock();
        let pool = services
            .entry(name.to_string())
            .or_insert_with(|| {
                Arc::new(ServicePool {
                    name: name.to_string(),
                    protocol: svc.protocol,
                    configured: Mutex::new(Vec::new()),
                    endpoints: ArcSwap::from_pointee(Vec::new()),
                    next: AtomicUsize::new(0),
                })
            })
            .clone();
        // Unchanged (most services at most reloads, and every route naming one again):
        // nothing to parse or swap.
        let unchanged = pool
            .configured
            .lock()
            .iter()
            .eq(svc.endpoints.iter().map(|e| &e.value));
        if unchanged {
            return pool;
        }
        let configured: Vec<String> = svc.endpoints.iter().map(|e| e.value.clone()).collect();
        *pool.configured.lock() = configured.clone();
        let literal: Vec<SocketAddr> = configured.iter().filter_map(|e| e.parse().ok()).collect();
        if literal.len() == configured.len() {
            pool.set_addresses(literal);
        }
        pool
    }

    pub fn all_services(&self) -> Vec<Arc<ServicePool>> {
        self.services.lock().values().cloned().collect()
    }
}
