//! Upstream connections, pooled per endpoint: hyper's HTTP/1.1 and HTTP/2 client
//! connections held directly, with no per-request hashing, spawned tasks or parallel
//! connect races.
//!
//! HTTP/1.1: a LIFO stack of idle connections. A request takes the most recently used
//! one (warm caches, and the oldest idle ones age out), or connects a new one when none
//! is idle. The connection travels with the response body ([`UpstreamBody`]) and goes
//! back on the stack when the body has been read to its end; a body dropped early, an
//! upgraded connection or a failed one is closed instead of reused.
//!
//! HTTP/2 (h2c): one multiplexed connection per endpoint, cloned per request and replaced
//! when it closes.

use crate::body::ProxyBody;
use bytes::Bytes;
use http::{Request, Response};
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use hyper::client::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use parking_lot::Mutex;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::net::{TcpSocket, TcpStream};

/// Idle HTTP/1.1 connections kept per endpoint; more are closed when they come back.
const MAX_IDLE: usize = 1024;
/// An idle connection unused for this long is closed (servers close theirs after a
/// similar time, nginx after 75 s): it would likely fail on its next use anyway.
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// Why an upstream call failed.
#[derive(Debug)]
pub enum UpstreamError {
    /// No connection could be made (refused, unreachable, or the connect timed out).
    Connect(String),
    /// The connection failed after it was made: reset, closed early, or a bad response.
    Http(hyper::Error),
}

impl std::fmt::Display for UpstreamError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            UpstreamError::Connect(m) => f.write_str(m),
            UpstreamError::Http(e) => f.write_str(&crate::error::source_text(e)),
        }
    }
}

struct Idle {
    sender: http1::SendRequest<ProxyBody>,
    since: Instant,
}

/// The connections of one endpoint.
#[derive(Default)]
pub struct Connections {
    idle: Mutex<Vec<Idle>>,
    h2: Mutex<Option<http2::SendRequest<ProxyBody>>>,
    /// Held while an h2c connection is being made, so requests that arrive meanwhile wait
    /// for it instead of each opening their own.
    h2_connecting: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for Connections {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connections")
            .field("idle", &self.idle_count())
            .finish()
    }
}

impl Connections {
    /// Sends `req` over HTTP/1.1 on an idle connection, or a new one. A pooled
    /// connection that turns out to be dead before the request was written is passed
    /// over and the request tried on the next one, so a keep-alive connection the server
    /// closed never fails a request.
    pub async fn send_h1(
        self: &Arc<Self>,
        addr: SocketAddr,
        connect_timeout: Duration,
        mut req: Request<ProxyBody>,
    ) -> Result<Response<UpstreamBody>, UpstreamError> {
        loop {
            let Some(mut sender) = self.take_idle() else {
                break;
            };
            if sender.ready().await.is_err() {
                continue;
            }
            match sender.try_send_request(req).await {
                Ok(resp) => return Ok(self.wrap(resp, sender)),
                Err(mut e) => match e.take_message() {
                    Some(back) => req = back,
                    None => return Err(UpstreamError::Http(e.into_error())),
                },
            }
        }
        let mut sender = self.connect_h1(addr, connect_timeout).await?;
        match sender.send_request(req).await {
            Ok(resp) => Ok(self.wrap(resp, sender)),
            Err(e) => Err(UpstreamError::Http(e)),
        }
    }

    /// The most recently used idle connection that is still open.
    fn take_idle(&self) -> Option<http1::SendRequest<ProxyBody>> {
        let mut idle = self.idle.lock();
        while let Some(i) = idle.pop() {
            if !i.sender.is_closed() {
                return Some(i.sender);
            }
        }
        None
    }

    fn wrap(
        self: &Arc<Self>,
        resp: Response<Incoming>,
        sender: http1::SendRequest<ProxyBody>,
    ) -> Response<UpstreamBody> {
        // An upgraded connection belongs to the tunnel now.
        let back = (resp.status() != http::StatusCode::SWITCHING_PROTOCOLS)
            .then(|| (sender, self.clone()));
        resp.map(|inner| UpstreamBody {
            inner,
            done: false,
            back,
        })
    }

    fn give_back(&self, sender: http1::SendRequest<ProxyBody>) {
        if sender.is_closed() {
            return;
        }
        let now = Instant::now();
        let mut idle = self.idle.lock();
        // The bottom of the stack is the longest idle: age it out here, where the lock
        // is already held, instead of in a timer.
        while idle
            .first()
            .is_some_and(|i| now.duration_since(i.since) > IDLE_TIMEOUT)
        {
            idle.remove(0);
        }
        if idle.len() < MAX_IDLE {
            idle.push(Idle { sender, since: now });
        }
    }

    async fn connect_h1(
        &self,
        addr: SocketAddr,
        connect_timeout: Duration,
    ) -> Result<http1::SendRequest<ProxyBody>, UpstreamError> {
        let io = TokioIo::new(connect(addr, connect_timeout).await?);
        let (sender, conn) = http1::Builder::new()
            .handshake(io)
            .await
            .map_err(UpstreamError::Http)?;
        tokio::spawn(async move {
            if let Err(e) = conn.with_upgrades().await {
                tracing::debug!(upstream = %addr, error = %e, "upstream connection ended with an error");
            }
        });
        Ok(sender)
    }

    /// Sends `req` over the endpoint's HTTP/2 connection, made on first use and again
    /// whenever the last one closed.
    pub async fn send_h2(
        &self,
        addr: SocketAddr,
        connect_timeout: Duration,
        req: Request<ProxyBody>,
    ) -> Result<Response<UpstreamBody>, UpstreamError> {
        let open = || self.h2.lock().as_ref().filter(|s| !s.is_closed()).cloned();
        let sender = match open() {
            Some(s) => s,
            None => {
                let _connecting = self.h2_connecting.lock().await;
                if let Some(s) = open() {
                    return Self::send_on_h2(s, req).await;
                }
                let io = TokioIo::new(connect(addr, connect_timeout).await?);
                let (sender, conn) = http2::Builder::new(TokioExecutor::new())
                    .timer(TokioTimer::new())
                    .handshake(io)
                    .await
                    .map_err(UpstreamError::Http)?;
                tokio::spawn(async move {
                    if let Err(e) = conn.await {
                        tracing::debug!(upstream = %addr, error = %e, "upstream h2 connection ended with an error");
                    }
                });
                *self.h2.lock() = Some(sender.clone());
                sender
            }
        };
        Self::send_on_h2(sender, req).await
    }

    async fn send_on_h2(
        mut sender: http2::SendRequest<ProxyBody>,
        req: Request<ProxyBody>,
    ) -> Result<Response<UpstreamBody>, UpstreamError> {
        sender.ready().await.map_err(UpstreamError::Http)?;
        let resp = sender
            .send_request(req)
            .await
            .map_err(UpstreamError::Http)?;
        Ok(resp.map(|inner| UpstreamBody {
            inner,
            done: false,
            back: None,
        }))
    }

    /// Idle HTTP/1.1 connections held now (for tests and the admin view).
    pub fn idle_count(&self) -> usize {
        self.idle.lock().len()
    }
}

async fn connect(addr: SocketAddr, timeout: Duration) -> Result<TcpStream, UpstreamError> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()
    } else {
        TcpSocket::new_v6()
    }
    .map_err(|e| UpstreamError::Connect(format!("cannot open a socket: {e}")))?;
    let _ = socket.set_keepalive(true);
    let stream = match tokio::time::timeout(timeout, socket.connect(addr)).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => return Err(UpstreamError::Connect(format!("connect to {addr}: {e}"))),
        Err(_) => {
            return Err(UpstreamError::Connect(format!(
                "connect to {addr} timed out after {timeout:?}"
            )))
        }
    };
    let _ = stream.set_nodelay(true);
    Ok(stream)
}

/// An upstream response body. It carries its HTTP/1.1 connection, which goes back to the
/// pool once the body has been read to the end (and is closed if the body is dropped
/// before that).
pub struct UpstreamBody {
    inner: Incoming,
    done: bool,
    back: Option<(http1::SendRequest<ProxyBody>, Arc<Connections>)>,
}

impl UpstreamBody {
    fn finish(&mut self) {
        self.done = true;
        if let Some((sender, conns)) = self.back.take() {
            conns.give_back(sender);
        }
    }
}

impl Body for UpstreamBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let this = &mut *self;
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(None) => this.finish(),
            Poll::Ready(Some(Ok(_))) if this.inner.is_end_stream() => this.finish(),
            Poll::Ready(Some(Err(_))) => {
                this.done = true;
                this.back = None;
            }
            _ => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.done || self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for UpstreamBody {
    fn drop(&mut self) {
        // A body with nothing left to read (HEAD, 204, 304, or read to the end) leaves
        // its connection reusable.
        if self.back.is_some() && self.inner.is_end_stream() {
            self.finish();
        }
    }
}
