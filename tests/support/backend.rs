//! A test backend: answers every request with its name in the body and an
//! `x-backend` header, after an optional delay and with an optional status; counts the
//! requests it got. Serves HTTP/1.1 and h2c, and upgrades (echoes bytes after a 101).
//! As the Gateway API conformance suite's echo server does, a request may ask for a
//! later answer (`delay` query parameter: `1s`, `250ms`) and for response headers
//! (`x-echo-set-header: Name:value,Other:value`).

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU16, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

#[derive(Clone, Default)]
pub struct BackendOptions {
    pub delay: Duration,
    pub status: u16,
}

pub struct Backend {
    pub name: String,
    pub addr: SocketAddr,
    pub hits: Arc<AtomicU64>,
    /// Status to answer with; can be changed while running.
    pub status: Arc<AtomicU16>,
    /// Last request body seen.
    pub last_body: Arc<parking_lot::Mutex<Bytes>>,
    /// Last request's headers, as the backend received them.
    pub last_headers: Arc<parking_lot::Mutex<hyper::HeaderMap>>,
    /// Last request's URI (request target), as the backend received it.
    pub last_uri: Arc<parking_lot::Mutex<hyper::Uri>>,
    task: tokio::task::JoinHandle<()>,
    /// Every connection task, so `kill` can cut open keep-alive connections too.
    conns: Arc<parking_lot::Mutex<Vec<tokio::task::AbortHandle>>>,
}

impl Backend {
    pub async fn start(name: &str) -> Backend {
        Self::start_with(name, BackendOptions::default()).await
    }

    /// A backend that answers every request with 500.
    pub async fn start_failing(name: &str) -> Backend {
        Self::start_with(
            name,
            BackendOptions {
                status: 500,
                ..BackendOptions::default()
            },
        )
        .await
    }

    pub async fn start_with(name: &str, opts: BackendOptions) -> Backend {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        Self::serve(name, listener, opts)
    }

    /// Serves on an address that is already bound (used to restart on the same port).
    pub fn serve(name: &str, listener: TcpListener, opts: BackendOptions) -> Backend {
        let addr = listener.local_addr().unwrap();
        let hits = Arc::new(AtomicU64::new(0));
        let status = Arc::new(AtomicU16::new(if opts.status == 0 {
            200
        } else {
            opts.status
        }));
        let last_body = Arc::new(parking_lot::Mutex::new(Bytes::new()));
        let last_headers = Arc::new(parking_lot::Mutex::new(hyper::HeaderMap::new()));
        let last_uri = Arc::new(parking_lot::Mutex::new(hyper::Uri::default()));
        let (n, h, s, lb, lh, lu, delay) = (
            name.to_string(),
            hits.clone(),
            status.clone(),
            last_body.clone(),
            last_headers.clone(),
            last_uri.clone(),
            opts.delay,
        );
        let conns: Arc<parking_lot::Mutex<Vec<tokio::task::AbortHandle>>> = Default::default();
        let conns2 = conns.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let (n, h, s, lb, lh, lu) = (
                    n.clone(),
                    h.clone(),
                    s.clone(),
                    lb.clone(),
                    lh.clone(),
                    lu.clone(),
                );
                let conn = tokio::spawn(async move {
                    let svc = hyper::service::service_fn(move |req: Request<Incoming>| {
                        let (n, h, s, lb) = (n.clone(), h.clone(), s.clone(), lb.clone());
                        *lh.lock() = req.headers().clone();
                        *lu.lock() = req.uri().clone();
                        async move {
                            h.fetch_add(1, Ordering::SeqCst);
                            if req.headers().contains_key(hyper::header::UPGRADE) {
                                return Ok::<_, hyper::Error>(upgrade_echo(req));
                            }
                            // What the backend saw: the HTTP version weir spoke and the
                            // host it asked for (Host, or :authority over HTTP/2).
                            let seen_version = format!("{:?}", req.version());
                            let seen_host = req
                                .headers()
                                .get(hyper::header::HOST)
                                .and_then(|h| h.to_str().ok())
                                .map(str::to_string)
                                .or_else(|| req.uri().authority().map(|a| a.to_string()))
                                .unwrap_or_default();
                            let asked_delay = asked_delay(req.uri().query());
                            let asked_headers = asked_headers(req.headers());
                            let body = req.into_body().collect().await?.to_bytes();
                            *lb.lock() = body;
                            let delay = asked_delay.unwrap_or(delay);
                            if !delay.is_zero() {
                                tokio::time::sleep(delay).await;
                            }
                            let mut resp = Response::new(Full::new(Bytes::from(n.clone())));
                            *resp.status_mut() =
                                StatusCode::from_u16(s.load(Ordering::SeqCst)).unwrap();
                            resp.headers_mut().insert("x-backend", n.parse().unwrap());
                            resp.headers_mut()
                                .insert("x-seen-version", seen_version.parse().unwrap());
                            if let Ok(v) = seen_host.parse() {
                                resp.headers_mut().insert("x-seen-host", v);
                            }
                            for (name, value) in asked_headers {
                                resp.headers_mut().insert(name, value);
                            }
                            Ok(resp)
                        }
                    });
                    let _ = auto::Builder::new(TokioExecutor::new())
                        .serve_connection_with_upgrades(TokioIo::new(stream), svc)
                        .await;
                });
                conns2.lock().push(conn.abort_handle());
            }
        });
        Backend {
            name: name.to_string(),
            addr,
            hits,
            status,
            last_body,
            last_headers,
            last_uri,
            task,
            conns,
        }
    }

    pub fn hits(&self) -> u64 {
        self.hits.load(Ordering::SeqCst)
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> usize {
        self.conns.lock().len()
    }

    /// Stops accepting and drops the listener: new connections are refused.
    pub fn kill(&self) {
        self.task.abort();
        for c in self.conns.lock().drain(..) {
            c.abort();
        }
    }
}

impl Drop for Backend {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The `delay` query parameter (`1s`, `250ms`, or whole seconds), as the conformance
/// suite's echo server reads it.
fn asked_delay(query: Option<&str>) -> Option<Duration> {
    let value = query?
        .split('&')
        .find_map(|pair| pair.strip_prefix("delay="))?;
    if let Some(ms) = value.strip_suffix("ms") {
        ms.parse().ok().map(Duration::from_millis)
    } else {
        value
            .strip_suffix('s')
            .unwrap_or(value)
            .parse()
            .ok()
            .and_then(|s| Duration::try_from_secs_f64(s).ok())
    }
}

/// The response headers a request asks for with `x-echo-set-header: Name:value,...`.
fn asked_headers(
    headers: &hyper::HeaderMap,
) -> Vec<(hyper::header::HeaderName, hyper::header::HeaderValue)> {
    headers
        .get_all("x-echo-set-header")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|pair| {
            let (name, value) = pair.split_once(':')?;
            Some((name.trim().parse().ok()?, value.trim().parse().ok()?))
        })
        .collect()
}

fn upgrade_echo(mut req: Request<Incoming>) -> Response<Full<Bytes>> {
    let on = hyper::upgrade::on(&mut req);
    tokio::spawn(async move {
        if let Ok(up) = on.await {
            let mut io = TokioIo::new(up);
            let mut buf = [0u8; 1024];
            while let Ok(n) = io.read(&mut buf).await {
                if n == 0 || io.write_all(&buf[..n]).await.is_err() {
                    break;
                }
            }
        }
    });
    let mut resp = Response::new(Full::new(Bytes::new()));
    *resp.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    resp.headers_mut()
        .insert(hyper::header::UPGRADE, "echo".parse().unwrap());
    resp.headers_mut()
        .insert(hyper::header::CONNECTION, "upgrade".parse().unwrap());
    resp
}
