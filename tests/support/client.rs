//! Test clients over HTTP/1.1 (keep-alive pool), h2c (prior knowledge, one multiplexed
//! connection) and TLS with ALPN h2, and a load helper with a fixed number in flight.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Request, StatusCode};
use hyper_util::client::legacy::{connect::HttpConnector, Client as Legacy};
use hyper_util::rt::{TokioExecutor, TokioIo};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Clone)]
pub enum Client {
    Http1(Legacy<HttpConnector, Full<Bytes>>),
    H2c(Legacy<HttpConnector, Full<Bytes>>),
    Tls(hyper::client::conn::http2::SendRequest<Full<Bytes>>),
}

/// What one request saw.
#[derive(Clone, Debug)]
pub struct Outcome {
    pub status: u16,
    /// The `x-backend` header: which test backend answered.
    pub backend: Option<String>,
    pub weir_error: Option<String>,
    pub set_cookie: Option<String>,
    pub body: Bytes,
    pub elapsed: Duration,
}

impl Client {
    pub fn http1() -> Client {
        Client::Http1(Legacy::builder(TokioExecutor::new()).build(HttpConnector::new()))
    }

    pub fn h2c() -> Client {
        Client::H2c(
            Legacy::builder(TokioExecutor::new())
                .http2_only(true)
                .build(HttpConnector::new()),
        )
    }

    /// One TLS connection to `addr` with SNI `name`, trusting `ca_der`, speaking h2.
    pub async fn tls(addr: SocketAddr, name: &str, ca_der: &[u8]) -> Client {
        let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        let tls = super::raw::tls_connect(tcp, name, ca_der, &[b"h2"], Some(b"h2")).await;
        let (send, conn) =
            hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tls))
                .await
                .unwrap();
        tokio::spawn(conn);
        Client::Tls(send)
    }

    pub async fn request(&self, req: Request<Full<Bytes>>) -> Result<Outcome, String> {
        let start = Instant::now();
        let resp = match self {
            Client::Http1(c) | Client::H2c(c) => {
                c.request(req).await.map_err(|e| format!("{e:?}"))?
            }
            Client::Tls(s) => {
                let mut s = s.clone();
                s.ready().await.map_err(|e| e.to_string())?;
                s.send_request(req).await.map_err(|e| e.to_string())?
            }
        };
        let status = resp.status().as_u16();
        let header = |n: &str| {
            resp.headers()
                .get(n)
                .and_then(|v| v.to_str().ok())
                .map(String::from)
        };
        let backend = header("x-backend");
        let weir_error = header("x-weir-error");
        let set_cookie = header("set-cookie");
        let elapsed = start.elapsed();
        let body = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| e.to_string())?
            .to_bytes();
        Ok(Outcome {
            status,
            backend,
            weir_error,
            set_cookie,
            body,
            elapsed,
        })
    }

    /// GET `http(s)://{authority}{path}` with extra headers.
    pub async fn get(
        &self,
        authority: &str,
        path: &str,
        headers: &[(&str, &str)],
    ) -> Result<Outcome, String> {
        let scheme = if matches!(self, Client::Tls(_)) {
            "https"
        } else {
            "http"
        };
        let mut b = Request::get(format!("{scheme}://{authority}{path}"));
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        self.request(b.body(Full::new(Bytes::new())).unwrap()).await
    }

    /// Sends `n` GETs for `/`, one after another, and asserts `backend` answered each.
    pub async fn assert_served_by(&self, authority: &str, n: usize, backend: &str) {
        for _ in 0..n {
            let o = self.get(authority, "/", &[]).await.unwrap();
            assert_eq!(o.backend.as_deref(), Some(backend), "{o:?}");
        }
    }
}

/// Sends `n` GETs with `in_flight` at a time; returns every outcome (errors as status 0).
pub async fn load(client: &Client, authority: &str, n: usize, in_flight: usize) -> Vec<Outcome> {
    use futures_util::StreamExt;
    futures_util::stream::iter(0..n)
        .map(|_| {
            let c = client.clone();
            let a = authority.to_string();
            async move {
                c.get(&a, "/", &[]).await.unwrap_or_else(|e| Outcome {
                    status: 0,
                    backend: None,
                    weir_error: Some(e),
                    set_cookie: None,
                    body: Bytes::new(),
                    elapsed: Duration::ZERO,
                })
            }
        })
        .buffer_unordered(in_flight)
        .collect()
        .await
}

/// How many outcomes came from each backend name.
pub fn count_by_backend(outcomes: &[Outcome]) -> std::collections::HashMap<String, u64> {
    let mut m = std::collections::HashMap::new();
    for o in outcomes {
        if let Some(b) = &o.backend {
            *m.entry(b.clone()).or_insert(0) += 1;
        }
    }
    m
}

pub fn failures(outcomes: &[Outcome]) -> Vec<&Outcome> {
    outcomes
        .iter()
        .filter(|o| o.status != StatusCode::OK.as_u16())
        .collect()
}

/// One request of a background load, with when it started.
#[derive(Clone, Debug)]
pub struct Timed {
    pub started: Instant,
    pub outcome: Outcome,
}

/// Background load: `workers` concurrent request loops over one pooled HTTP/1.1 client
/// until stopped.
pub struct Load {
    stop: Arc<std::sync::atomic::AtomicBool>,
    tasks: Vec<tokio::task::JoinHandle<Vec<Timed>>>,
}

impl Load {
    /// One request loop at about `per_second` requests a second: a modest, steady load.
    #[allow(dead_code)]
    pub fn paced(authority: &str, per_second: u32) -> Load {
        Self::spawn(authority, 1, Some(Duration::from_secs(1) / per_second))
    }

    pub fn start(authority: &str, workers: usize) -> Load {
        Self::spawn(authority, workers, None)
    }

    fn spawn(authority: &str, workers: usize, every: Option<Duration>) -> Load {
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let client = Client::http1();
        let tasks = (0..workers)
            .map(|_| {
                let (stop, client, authority) =
                    (stop.clone(), client.clone(), authority.to_string());
                tokio::spawn(async move {
                    let mut out = Vec::new();
                    let mut ticks = every.map(tokio::time::interval);
                    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                        if let Some(t) = &mut ticks {
                            t.tick().await;
                        }
                        let started = Instant::now();
                        let outcome =
                            client
                                .get(&authority, "/", &[])
                                .await
                                .unwrap_or_else(|e| Outcome {
                                    status: 0,
                                    backend: None,
                                    weir_error: Some(e),
                                    set_cookie: None,
                                    body: Bytes::new(),
                                    elapsed: started.elapsed(),
                                });
                        out.push(Timed { started, outcome });
                    }
                    out
                })
            })
            .collect();
        Load { stop, tasks }
    }

    pub async fn stop(self) -> Vec<Timed> {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let mut all = Vec::new();
        for t in self.tasks {
            all.extend(t.await.unwrap());
        }
        all
    }
}
