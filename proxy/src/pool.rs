//! Upstream connections, pooled per endpoint, with no per-request hashing, spawned tasks
//! or parallel connect races.
//!
//! HTTP/1.1: a LIFO stack of idle connections, driven by weir's own client
//! ([`crate::h1`]) on the request's task. A request takes the most recently used one
//! (warm caches, and the oldest idle ones age out), or connects a new one when none is
//! idle. The connection travels with the response body ([`UpstreamBody`]) and goes back
//! on the stack when the body has been read to its end (at once, when the head's read
//! brought the whole body); a body dropped early, an upgraded connection or a failed one
//! is closed instead of reused.
//!
//! HTTP/2 (h2c): hyper's client, one multiplexed connection per endpoint, cloned per
//! request and replaced when it closes.

use crate::body::{BodyError, ProxyBody};
use crate::h1;
use bytes::Bytes;
use http::{Request, Response};
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use hyper::client::conn::http2;
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
    /// The connection failed after it was made: reset, or closed early.
    Reset(String),
    /// The upstream's answer was not valid HTTP.
    Protocol(String),
    /// The client's request body failed while it was forwarded.
    ClientBody(String),
    /// The client stopped sending its request body for this long.
    ClientIdle(Duration),
    /// An HTTP/2 call failed.
    Http(hyper::Error),
}

impl std::fmt::Display for UpstreamError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            UpstreamError::Connect(m)
            | UpstreamError::Reset(m)
            | UpstreamError::Protocol(m)
            | UpstreamError::ClientBody(m) => f.write_str(m),
            UpstreamError::ClientIdle(d) => {
                write!(f, "the client sent no more of its request body for {d:?}")
            }
            UpstreamError::Http(e) => f.write_str(&crate::error::source_text(e)),
        }
    }
}

impl From<h1::Error> for UpstreamError {
    fn from(e: h1::Error) -> Self {
        let text = e.to_string();
        match e {
            h1::Error::Io(_) => UpstreamError::Reset(text),
            h1::Error::Protocol(_) => UpstreamError::Protocol(text),
            h1::Error::ClientBody(_) => UpstreamError::ClientBody(text),
            h1::Error::ClientIdle(d) => UpstreamError::ClientIdle(d),
        }
    }
}

/// A request ready for one upstream protocol.
pub enum Outgoing {
    H1(h1::Request),
    H2(Box<Request<ProxyBody>>),
}

struct Idle {
    conn: h1::Conn,
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

impl h1::Recycle for Connections {
    fn recycle(&self, conn: h1::Conn) {
        self.give_back(conn);
    }
}

impl Connections {
    /// Sends `req` over HTTP/1.1 on an idle connection, or a new one. A pooled
    /// connection the server closed while it was idle never fails a request: when it
    /// fails with nothing answered, the request goes to the next one (or a new one) if it
    /// can be sent again ([`h1::Failure`]).
    pub async fn send_h1(
        self: &Arc<Self>,
        addr: SocketAddr,
        connect_timeout: Duration,
        mut req: h1::Request,
    ) -> Result<Response<UpstreamBody>, UpstreamError> {
        while let Some(mut conn) = self.take_idle() {
            match conn.round_trip(&mut req, true).await {
                Ok(head) => return self.response(head, conn),
                Err(f) if f.retry => continue,
                Err(f) => return Err(f.error.into()),
            }
        }
        let mut conn = h1::Conn::new(connect(addr, connect_timeout).await?);
        match conn.round_trip(&mut req, false).await {
            Ok(head) => self.response(head, conn),
            Err(f) => Err(f.error.into()),
        }
    }

    /// The most recently used idle connection that still looks open.
    fn take_idle(&self) -> Option<h1::Conn> {
        let mut idle = self.idle.lock();
        while let Some(i) = idle.pop() {
            if i.conn.looks_open() {
                return Some(i.conn);
            }
        }
        None
    }

    fn response(
        self: &Arc<Self>,
        mut head: h1::Head,
        conn: h1::Conn,
    ) -> Result<Response<UpstreamBody>, UpstreamError> {
        let raw = head.raw.take();
        let body = if head.is_upgrade() {
            // An upgraded connection belongs to the tunnel now.
            UpstreamBody::Upgraded(Some(conn.into_upgraded()))
        } else {
            match head
                .body(conn, self.clone())
                .map_err(UpstreamError::Protocol)?
            {
                h1::Read::Whole(bytes, conn) => {
                    if let Some(conn) = conn {
                        self.give_back(conn);
                    }
                    UpstreamBody::Whole(Some(bytes), raw)
                }
                h1::Read::Streaming(body) => UpstreamBody::H1(body, raw),
            }
        };
        let mut resp = Response::new(body);
        *resp.status_mut() = head.status;
        *resp.headers_mut() = head.headers;
        Ok(resp)
    }

    fn give_back(&self, conn: h1::Conn) {
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
            idle.push(Idle { conn, since: now });
        }
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
        Ok(resp.map(UpstreamBody::H2))
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

/// An upstream response body.
pub enum UpstreamBody {
    /// Read whole with the head; its HTTP/1.1 connection is already back in the pool.
    /// With the head's header lines when they were asked for raw (`h1::RawHeaders`):
    /// they travel with the body, which the writer owns anyway, rather than in the
    /// response's extensions, which would cost a map allocation per request.
    Whole(Option<Bytes>, Option<h1::RawHeaders>),
    /// Streamed from an HTTP/1.1 connection, which goes back to the pool at the end;
    /// raw header lines as for `Whole`.
    H1(h1::H1Body, Option<h1::RawHeaders>),
    /// A stream of an HTTP/2 connection.
    H2(Incoming),
    /// After `101 Switching Protocols`: no body; the connection and any bytes already
    /// read from it, for the tunnel.
    Upgraded(Option<(TcpStream, Bytes)>),
}

impl UpstreamBody {
    /// Whether the response's headers may still carry hop-by-hop headers: HTTP/2
    /// answers do; weir's HTTP/1.1 client leaves them out as it parses the head.
    pub fn may_have_hop_by_hop(&self) -> bool {
        matches!(self, UpstreamBody::H2(_))
    }

    /// The head's header lines, when they were asked for raw; once.
    pub fn take_raw_headers(&mut self) -> Option<h1::RawHeaders> {
        match self {
            UpstreamBody::Whole(_, raw) | UpstreamBody::H1(_, raw) => raw.take(),
            _ => None,
        }
    }

    /// The upgraded connection, once.
    pub fn take_upgraded(&mut self) -> Option<(TcpStream, Bytes)> {
        match self {
            UpstreamBody::Upgraded(u) => u.take(),
            _ => None,
        }
    }
}

impl Body for UpstreamBody {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        match self.get_mut() {
            UpstreamBody::Whole(b, _) => Poll::Ready(
                b.take()
                    .filter(|b| !b.is_empty())
                    .map(|b| Ok(Frame::data(b))),
            ),
            UpstreamBody::H1(b, _) => b.poll_frame(cx),
            UpstreamBody::H2(b) => Pin::new(b).poll_frame(cx).map_err(Into::into),
            UpstreamBody::Upgraded(_) => Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            UpstreamBody::Whole(b, _) => b.as_ref().is_none_or(Bytes::is_empty),
            UpstreamBody::H1(b, _) => b.is_end_stream(),
            UpstreamBody::H2(b) => b.is_end_stream(),
            UpstreamBody::Upgraded(_) => true,
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            UpstreamBody::Whole(b, _) => {
                SizeHint::with_exact(b.as_ref().map_or(0, |b| b.len() as u64))
            }
            UpstreamBody::H1(b, _) => b.size_hint(),
            UpstreamBody::H2(b) => b.size_hint(),
            UpstreamBody::Upgraded(_) => SizeHint::with_exact(0),
        }
    }
}
