//! weir's own HTTP/1.1 server, for plain connections and for TLS ones that did not
//! choose h2: the common request, read whole in one go, served without hyper's
//! per-connection dispatcher, and (on plain connections) with no buffer held while the
//! connection is idle.
//!
//! It serves a request when its head and body are all in what one read brought, the
//! version is HTTP/1.1, the target is origin-form, and there is no `transfer-encoding`,
//! `expect` or `upgrade` and at most 64 KiB of body. Anything else (h2c prior knowledge,
//! HTTP/1.0, upgrades, chunked or large uploads, a head split across reads, a malformed
//! request) hands the connection, with every byte read so far, to hyper's server, which
//! then serves it to the end exactly as before: its limits (431 for big heads, the
//! header-read timeout against slow clients), its error answers and its streaming.
//!
//! Keep-alive as hyper does it: an idle connection is closed after the header-read
//! timeout. That timer, and the one for the request timeout, are armed once per
//! connection and moved lazily ([`LazyTimer`]), so a request costs no timer registration.
//! The same for the shutdown signal: one wait per connection, registered once.
//!
//! Over TLS the connection waits for its next request with a buffer (rustls holds its
//! own anyway), flushes after each answer (rustls may keep what the socket did not
//! take), and never parks: parking keeps only the socket, and a TLS session is more.

use crate::body::ProxyBody;
use crate::deadline::LazyTimer;
use crate::forward::{self, ClientBody, ClientInfo};
use crate::headers::has_token;
use crate::park::{Parking, PARK_AFTER};
use bytes::{Bytes, BytesMut};
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Method, StatusCode, Uri, Version};
use http_body::Body;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::Watcher;
use std::io::Write as _;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::{watch, OwnedSemaphorePermit};
use tokio::time::Instant;
use tokio_rustls::server::TlsStream;

/// Request bodies up to this size are served here (the proxy buffers them anyway).
const MAX_BODY: usize = 64 * 1024;
/// The most request headers served here; more go to hyper (whose limit is 100).
const MAX_HEADERS: usize = 64;
/// Request heads up to this size are served here.
const MAX_HEAD: usize = 16 * 1024;
/// The first read of a request.
const READ_SIZE: usize = 4096;
/// Response bodies up to this size are copied behind the head and written in one call.
const COALESCE: usize = 16 * 1024;

/// What a connection needs besides its socket.
pub(crate) struct Conn {
    pub client: ClientInfo,
    pub watcher: Watcher,
    pub shutdown: watch::Receiver<bool>,
    /// The connection's slot under `limits.max_connections`.
    pub permit: OwnedSemaphorePermit,
    /// What every connection of the listener shares (the proxy, hyper's builder, the idle
    /// timeout), and where the connection goes when it has been idle for a while.
    pub listener: Arc<Parking>,
}

/// A client connection this server can serve: a plain socket or a TLS session on one.
pub(crate) trait ClientStream: AsyncRead + AsyncWrite + Unpin + Send + 'static {
    /// Whether a write may keep bytes back until `flush` (rustls does, a socket does not).
    const HOLDS_WRITES: bool;

    /// Waits until the client sends, and reads what it sent into `buf` (empty on entry):
    /// how much (0 when the client closed). Dropping the future loses nothing.
    fn wait_for_request<'a>(
        &'a mut self,
        buf: &'a mut BytesMut,
    ) -> impl std::future::Future<Output = std::io::Result<usize>> + Send + 'a;

    /// The bare socket, for a connection that may wait in its listener's parking set.
    fn into_parkable(self) -> Option<TcpStream>;

    /// Closes an idle connection (over TLS, telling the client first).
    fn close(self) -> impl std::future::Future<Output = ()> + Send;
}

impl ClientStream for TcpStream {
    const HOLDS_WRITES: bool = false;

    async fn wait_for_request(&mut self, buf: &mut BytesMut) -> std::io::Result<usize> {
        loop {
            // No buffer until the socket is readable: an idle connection holds none.
            self.readable().await?;
            // Allocated at once at its size: `reserve` on an empty buffer would go
            // through `Vec`'s growth path, about 300 instructions more per request.
            *buf = BytesMut::with_capacity(READ_SIZE);
            // One read attempt, in this poll: either bytes come (a read that fills less
            // than the buffer clears the socket's readiness, so the next wait does not wake
            // up for nothing) or the readiness was not real (tokio starts an accepted
            // socket as readable) and the wait goes on, under the caller's idle timer. A
            // read outside that timer let a client that never sent a byte hold its
            // connection for ever.
            let read = std::future::poll_fn(|cx| {
                Poll::Ready(tokio_util::io::poll_read_buf(Pin::new(&mut *self), cx, buf))
            })
            .await;
            match read {
                Poll::Ready(r) => return r,
                Poll::Pending => *buf = BytesMut::new(),
            }
        }
    }

    fn into_parkable(self) -> Option<TcpStream> {
        Some(self)
    }

    async fn close(self) {}
}

impl ClientStream for TlsStream<TcpStream> {
    const HOLDS_WRITES: bool = true;

    async fn wait_for_request(&mut self, buf: &mut BytesMut) -> std::io::Result<usize> {
        // rustls decrypts into the caller's buffer, so it is there while waiting.
        *buf = BytesMut::with_capacity(READ_SIZE);
        self.read_buf(buf).await
    }

    fn into_parkable(self) -> Option<TcpStream> {
        None
    }

    async fn close(mut self) {
        // A `close_notify`, so the client can tell the close from a cut; not waited for
        // long if the client does not read.
        let _ = tokio::time::timeout(CLOSE_NOTIFY_WAIT, self.shutdown()).await;
    }
}

/// How long an idle TLS connection being closed may take to send its `close_notify`.
const CLOSE_NOTIFY_WAIT: std::time::Duration = std::time::Duration::from_secs(1);

/// Serves one client connection to its end.
pub(crate) async fn serve<S: ClientStream>(mut stream: S, conn: Conn) {
    let mut buf = BytesMut::new();
    let mut last_active = Instant::now();
    // Both armed once and moved lazily (see the module docs); the request timer is made
    // on the first request.
    let mut idle = LazyTimer::new(last_active + conn.listener.idle_timeout);
    let mut requests: Option<LazyTimer> = None;
    // Resolves with true once shutdown is signalled, with false if it no longer can be
    // (the sender is gone). Made once per connection, it stays registered with the
    // channel from one idle wait to the next; a `changed()` per wait registered and
    // unregistered every time, about 300 instructions per request.
    let mut shutdown_rx = conn.shutdown.clone();
    let mut shutdown =
        std::pin::pin!(async move { shutdown_rx.wait_for(|stop| *stop).await.is_ok() });
    // Off once `shutdown` has resolved with false.
    let mut watching = true;
    let park = conn.listener.worth_parking();
    loop {
        if buf.is_empty() {
            // Idle: no buffer held while waiting.
            drop(std::mem::take(&mut buf));
            let read = loop {
                tokio::select! {
                    biased;
                    read = stream.wait_for_request(&mut buf) => break read,
                    stop = &mut shutdown, if watching => {
                        if stop {
                            return stream.close().await;
                        }
                        watching = false;
                    }
                    _ = idle.until(last_active + if park { PARK_AFTER } else { conn.listener.idle_timeout }) => {
                        // Idle for a while: wait in the listener's parking set instead,
                        // which holds no task, timer or buffer for the connection.
                        if !park {
                            return stream.close().await;
                        }
                        if let Some(socket) = stream.into_parkable() {
                            let parking = conn.listener.clone();
                            let deadline = last_active + conn.listener.idle_timeout;
                            parking.park(socket, conn, deadline);
                        }
                        return;
                    }
                }
            };
            if matches!(read, Ok(0) | Err(_)) {
                return;
            }
        }
        // Everything a request needs lives in this boxed future, so the connection's
        // task (held for as long as the connection idles) stays small.
        let timer = requests.get_or_insert_with(|| LazyTimer::new(Instant::now()));
        match Box::pin(serve_one(&mut stream, &conn, &mut buf, timer)).await {
            After::KeepAlive => last_active = Instant::now(),
            After::Close => {
                let _ = stream.shutdown().await;
                return;
            }
            After::HandOff => return Box::pin(hand_off(stream, buf.freeze(), conn)).await,
        }
    }
}

/// What the connection does after a request.
enum After {
    KeepAlive,
    Close,
    /// Not a request this server serves: hyper takes the connection over.
    HandOff,
}

/// Serves the request at the front of `buf`.
async fn serve_one<S: ClientStream>(
    stream: &mut S,
    conn: &Conn,
    buf: &mut BytesMut,
    timer: &mut LazyTimer,
) -> After {
    let req = match parse_request(buf) {
        Next::Serve(req) => req,
        Next::HandOff => return After::HandOff,
        Next::Bad => {
            let _ = stream.write_all(BAD_REQUEST).await;
            return After::Close;
        }
    };
    let close = req.close || *conn.shutdown.borrow();
    let head_only = req.parts.method == Method::HEAD;
    // Pinned where it is made: the request's future is large, and moving it into the
    // relay by value copied it (about 2,000 instructions of memcpy per request).
    let mut fwd = std::pin::pin!(forward::forward(
        &conn.listener.proxy,
        &conn.client,
        req.parts,
        ClientBody::Held(req.body),
        Some(timer),
    ));
    let mut relay = Relay::default();
    let resp = match conn.client.interim.as_deref() {
        Some(interim) => {
            std::future::poll_fn(|cx| relay.poll(cx, stream, interim, fwd.as_mut())).await
        }
        None => fwd.await,
    };
    if !relay.finish(stream).await {
        return After::Close;
    }
    if !write_response(stream, resp, head_only, close).await || close {
        return After::Close;
    }
    After::KeepAlive
}

/// The `103 Early Hints` the upstream sends before its answer (`h1::Interim`), written to
/// the client as they come while the request's future runs, so a browser can start
/// fetching what they name while the answer is being made. The answer is returned as the
/// request's future gives it (no wrapper to move it through: it is large).
#[derive(Default)]
struct Relay {
    out: Vec<u8>,
    sent: usize,
    broken: bool,
    unflushed: bool,
}

impl Relay {
    /// Polls `fwd`; while it waits, writes what interim heads came.
    fn poll<S: ClientStream, F: std::future::Future>(
        &mut self,
        cx: &mut Context<'_>,
        stream: &mut S,
        interim: &crate::h1::Interim,
        fwd: Pin<&mut F>,
    ) -> Poll<F::Output> {
        let ready = fwd.poll(cx);
        if let Some(more) = interim.take() {
            self.out.extend_from_slice(&more);
        }
        if ready.is_ready() {
            return ready;
        }
        while !self.broken && self.sent < self.out.len() {
            match Pin::new(&mut *stream).poll_write(cx, &self.out[self.sent..]) {
                Poll::Ready(Ok(0) | Err(_)) => self.broken = true,
                Poll::Ready(Ok(n)) => {
                    self.sent += n;
                    self.unflushed = S::HOLDS_WRITES;
                }
                Poll::Pending => break,
            }
        }
        if self.unflushed && self.sent == self.out.len() {
            match Pin::new(&mut *stream).poll_flush(cx) {
                Poll::Ready(Ok(())) => self.unflushed = false,
                Poll::Ready(Err(_)) => self.broken = true,
                Poll::Pending => {}
            }
        }
        Poll::Pending
    }

    /// Writes what is left of the interim heads (before the final answer); false when a
    /// write failed.
    async fn finish<S: ClientStream>(&mut self, stream: &mut S) -> bool {
        if !self.broken && self.sent < self.out.len() {
            self.broken = stream.write_all(&self.out[self.sent..]).await.is_err();
        }
        !self.broken
    }
}

/// Hands the connection to hyper's server, replaying what was already read.
pub(crate) async fn hand_off<S: ClientStream>(stream: S, read: Bytes, conn: Conn) {
    let Conn {
        client,
        watcher,
        listener,
        ..
    } = conn;
    let addr = client.addr;
    let proxy = listener.proxy.clone();
    let svc = service_fn(move |req| forward::serve(proxy.clone(), client.clone(), req));
    let io = TokioIo::new(Replay {
        read,
        inner: stream,
    });
    let conn = listener.hyper.serve_connection_with_upgrades(io, svc);
    if let Err(e) = watcher.watch(conn.into_owned()).await {
        tracing::debug!(client = %addr, error = %e, "connection ended with an error");
    }
}

const BAD_REQUEST: &[u8] =
    b"HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n";

/// What to do with the bytes at the front of the buffer. (A value returned once per
/// request and matched at once: boxing the large variant would cost an allocation.)
#[allow(clippy::large_enum_variant)]
pub(crate) enum Next {
    Serve(Parsed),
    /// Not a request this server serves (the buffer is left untouched).
    HandOff,
    /// A head httparse accepted but `http` does not (it has been consumed).
    Bad,
}

/// A request this server serves.
pub(crate) struct Parsed {
    pub(crate) parts: http::request::Parts,
    pub(crate) body: Bytes,
    /// The client asked to close after this answer.
    pub(crate) close: bool,
}

/// Takes one whole request off the front of `buf` (see the module docs for which).
pub(crate) fn parse_request(buf: &mut BytesMut) -> Next {
    let mut slots =
        [const { std::mem::MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut []);
    let parsed = httparse::ParserConfig::default()
        .parse_request_with_uninit_headers(&mut req, buf, &mut slots);
    let head_len = match parsed {
        Ok(httparse::Status::Complete(n)) if n <= MAX_HEAD => n,
        _ => return Next::HandOff,
    };
    let (Some(1), Some(method), Some(path)) = (req.version, req.method, req.path) else {
        return Next::HandOff;
    };
    // A fragment has no place in a request target (RFC 9112 3.2): `http::Uri` would drop it
    // and route `/a` where a proxy in front may have seen `/a#b` (found by fuzzing). Checked
    // here for every complete head, those handed to hyper included.
    if path.contains('#') {
        return Next::Bad;
    }
    if !path.starts_with('/') || method == "CONNECT" {
        return Next::HandOff;
    }
    let mut body_len = 0usize;
    let mut seen_length = false;
    let mut close = false;
    // Where the method, the path and each header are, to slice the frozen head.
    let base = buf.as_ptr() as usize;
    let span = |s: &[u8]| {
        let at = s.as_ptr() as usize - base;
        (at as u16, (at + s.len()) as u16)
    };
    let method_span = span(method.as_bytes());
    let path_span = span(path.as_bytes());
    let mut spans = [((0u16, 0u16), (0u16, 0u16)); MAX_HEADERS];
    let count = req.headers.len();
    for (slot, h) in spans.iter_mut().zip(req.headers.iter()) {
        let name = h.name.as_bytes();
        if name.eq_ignore_ascii_case(b"content-length") {
            let n = h.value;
            if seen_length || n.is_empty() || n.len() > 9 || !n.iter().all(u8::is_ascii_digit) {
                return Next::HandOff;
            }
            body_len = n.iter().fold(0, |acc, d| acc * 10 + usize::from(d - b'0'));
            seen_length = true;
        } else if name.eq_ignore_ascii_case(b"transfer-encoding")
            || name.eq_ignore_ascii_case(b"expect")
            || name.eq_ignore_ascii_case(b"upgrade")
        {
            return Next::HandOff;
        } else if name.eq_ignore_ascii_case(b"connection") && has_token(h.value, b"close") {
            close = true;
        }
        *slot = (span(name), span(h.value));
    }
    if body_len > MAX_BODY || buf.len() < head_len + body_len {
        return Next::HandOff;
    }
    let head = buf.split_to(head_len).freeze();
    let body = buf.split_to(body_len).freeze();
    // Views into the head where a value keeps the bytes (the path, header values);
    // borrowed bytes where it copies or interns them (the method, header names).
    let slice = |(s, e): (u16, u16)| head.slice(s as usize..e as usize);
    let bytes = |(s, e): (u16, u16)| &head[s as usize..e as usize];
    let Ok(method) = Method::from_bytes(bytes(method_span)) else {
        return Next::Bad;
    };
    let Ok(uri) = Uri::from_maybe_shared(slice(path_span)) else {
        return Next::Bad;
    };
    // Room for a `host` the proxy adds when the client sent none.
    let mut headers = HeaderMap::with_capacity(count + 1);
    for &(name, value) in &spans[..count] {
        let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(bytes(name)),
            // httparse has checked the value's bytes; this wraps them without a copy.
            HeaderValue::from_maybe_shared(slice(value)),
        ) else {
            return Next::Bad;
        };
        headers.append(name, value);
    }
    let mut parts = http::Request::new(()).into_parts().0;
    parts.method = method;
    parts.uri = uri;
    parts.version = Version::HTTP_11;
    parts.headers = headers;
    Next::Serve(Parsed { parts, body, close })
}

/// Writes the answer; false when the connection cannot carry another request (a write
/// failed, or the body failed midway).
async fn write_response<S: ClientStream>(
    stream: &mut S,
    resp: http::Response<ProxyBody>,
    head_only: bool,
    close: bool,
) -> bool {
    let (parts, mut body) = resp.into_parts();
    let status = parts.status;
    let bodiless = head_only
        || status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED;
    let length = body.size_hint().exact();
    let mut out = Vec::with_capacity(256 + parts.headers.len() * 48);
    out.extend_from_slice(b"HTTP/1.1 ");
    out.extend_from_slice(status.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(status.canonical_reason().unwrap_or("").as_bytes());
    out.extend_from_slice(b"\r\n");
    let mut has_date = false;
    let raw = match &mut body {
        ProxyBody::Upstream(u) => u.get_mut().take_raw_headers(),
        _ => None,
    };
    if let Some(raw) = raw {
        out.extend_from_slice(&raw.lines);
        has_date = raw.has_date;
    }
    for (name, value) in &parts.headers {
        if (name == header::CONTENT_LENGTH && !bodiless)
            || name == header::TRANSFER_ENCODING
            || name == header::CONNECTION
        {
            continue;
        }
        has_date |= name == header::DATE;
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    if !has_date {
        out.extend_from_slice(b"date: ");
        date::append(&mut out);
        out.extend_from_slice(b"\r\n");
    }
    if close {
        out.extend_from_slice(b"connection: close\r\n");
    }
    let chunked = !bodiless && length.is_none();
    if !bodiless {
        match length {
            Some(n) => {
                out.extend_from_slice(b"content-length: ");
                out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
                out.extend_from_slice(b"\r\n");
            }
            None => out.extend_from_slice(b"transfer-encoding: chunked\r\n"),
        }
    }
    out.extend_from_slice(b"\r\n");
    if bodiless || length == Some(0) {
        return stream.write_all(&out).await.is_ok() && flush(stream).await;
    }
    // The body, frame by frame; the head goes out with the first one.
    let mut pending = Some(out);
    loop {
        let frame = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await;
        let data = match frame {
            None => break,
            Some(Err(e)) => {
                tracing::debug!(error = %e, "the response body failed; closing the connection");
                if pending.is_some() {
                    // Nothing of the answer was written yet: the client gets a 502 that
                    // says why, not a closed connection.
                    let _ = stream.write_all(&body_failed(&e)).await;
                    let _ = flush(stream).await;
                }
                return false;
            }
            Some(Ok(f)) => match f.into_data() {
                Ok(d) if !d.is_empty() => d,
                _ => continue,
            },
        };
        let mut out = pending.take().unwrap_or_default();
        if chunked {
            let _ = write!(out, "{:x}\r\n", data.len());
        }
        if data.len() <= COALESCE {
            out.extend_from_slice(&data);
            if chunked {
                out.extend_from_slice(b"\r\n");
            }
            if stream.write_all(&out).await.is_err() {
                return false;
            }
        } else {
            if stream.write_all(&out).await.is_err() || stream.write_all(&data).await.is_err() {
                return false;
            }
            if chunked && stream.write_all(b"\r\n").await.is_err() {
                return false;
            }
        }
        // A streamed answer's pieces go out as they come (over TLS, rustls may hold what
        // the socket did not take until told to flush).
        if !flush(stream).await {
            return false;
        }
    }
    let mut out = pending.take().unwrap_or_default();
    if chunked {
        out.extend_from_slice(b"0\r\n\r\n");
    }
    (out.is_empty() || stream.write_all(&out).await.is_ok()) && flush(stream).await
}

/// The answer for an upstream response whose body failed before any of it was sent: 504
/// when the upstream paused past the route's read timeout, else 502 (its framing broken,
/// or the connection cut), with `x-weir-error` as `ProxyError` words it.
fn body_failed(e: &crate::body::BodyError) -> Vec<u8> {
    let (status, kind) = if e.is::<crate::body::IdleTimeout>() {
        ("504 Gateway Timeout", "read_timeout")
    } else {
        ("502 Bad Gateway", "protocol")
    };
    let text = format!("the upstream's response body failed: {e}\n");
    let mut out = Vec::with_capacity(160 + text.len());
    let _ = write!(
        out,
        "HTTP/1.1 {status}\r\nx-weir-error: {kind}\r\ncontent-type: text/plain; charset=utf-8\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{text}",
        text.len()
    );
    out
}

/// Sends what the connection kept back, if it keeps any; false if that failed.
async fn flush<S: ClientStream>(stream: &mut S) -> bool {
    !S::HOLDS_WRITES || stream.flush().await.is_ok()
}

/// The `date` header value, formatted once per second per thread.
mod date {
    use std::cell::RefCell;
    use std::time::{SystemTime, UNIX_EPOCH};

    thread_local! {
        static CACHED: RefCell<(u64, String)> = const { RefCell::new((0, String::new())) };
    }

    pub fn append(out: &mut Vec<u8>) {
        let now = SystemTime::now();
        let secs = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        CACHED.with(|c| {
            let mut c = c.borrow_mut();
            if c.0 != secs || c.1.is_empty() {
                *c = (secs, httpdate::fmt_http_date(now));
            }
            out.extend_from_slice(c.1.as_bytes());
        });
    }
}

/// A connection whose first reads return bytes already read from it.
struct Replay<S> {
    read: Bytes,
    inner: S,
}

impl<S: AsyncRead + Unpin> AsyncRead for Replay<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        out: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        if !self.read.is_empty() {
            let n = self.read.len().min(out.remaining());
            let chunk = self.read.split_to(n);
            out.put_slice(&chunk);
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.inner).poll_read(cx, out)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Replay<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, data)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
#[path = "h1_server_tests.rs"]
mod tests;
