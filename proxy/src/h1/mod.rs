//! weir's HTTP/1.1 client side: the request head written straight from the client's
//! parsed request, the response head parsed in place with `httparse` (header values
//! point into the read buffer, no copy), and the response body decoded from the same
//! buffer. It runs on the request's own task: no connection task, channel or oneshot
//! between the request and its upstream socket, which is where hyper's client spent most
//! of weir's instructions per request (BENCHMARKS.md).
//!
//! What it does not do, deliberately: pipelining (one request per connection at a time,
//! as every proxy does upstream), and full duplex (the request body is written before the
//! response is read; an upstream that answers early and stops reading fails the request
//! with 502 once the kernel buffers are full). Trailers of a chunked response are read
//! and dropped.

pub(crate) mod body;
pub(crate) mod head;
#[cfg(test)]
mod tests;

pub use body::{H1Body, Read, Recycle};
pub use head::{Head, RawHeaders};

/// `103 Early Hints` heads the upstream sent before its final answer, ready to be written to
/// an HTTP/1.1 client as they come (weir's own server relays them while the request
/// waits). One per client connection.
#[derive(Debug, Default)]
pub struct Interim {
    any: std::sync::atomic::AtomicBool,
    heads: parking_lot::Mutex<Vec<u8>>,
}

impl Interim {
    /// At most this much interim answer per request is relayed; more is dropped.
    const MAX: usize = 16 * 1024;

    fn push(&self, head: &[u8]) {
        let mut heads = self.heads.lock();
        if heads.len() + head.len() <= Self::MAX {
            heads.extend_from_slice(head);
            self.any.store(true, std::sync::atomic::Ordering::Release);
        }
    }

    /// The heads pushed since the last call, if any (one atomic load when none).
    pub fn take(&self) -> Option<Vec<u8>> {
        // A load first: the common case (no hints) then costs no read-modify-write.
        if !self.any.load(std::sync::atomic::Ordering::Relaxed)
            || !self.any.swap(false, std::sync::atomic::Ordering::Acquire)
        {
            return None;
        }
        Some(std::mem::take(&mut *self.heads.lock()))
    }
}

/// Parses the response head at the start of `buf` as a GET's answer, as a `HeaderMap` or
/// (`raw`) as [`RawHeaders`]; `None` when incomplete or invalid. For `benches/headers.rs`.
#[doc(hidden)]
pub fn parse_response_head(buf: &mut BytesMut, raw: bool) -> Option<Head> {
    head::parse(buf, false, raw, false, None).ok().flatten()
}

use crate::headers::{Forwarded, X_FORWARDED_FOR, X_FORWARDED_PROTO};
use bytes::{Bytes, BytesMut};
use http::header::{self, HeaderMap};
use http::Method;
use http_body::Body;
use hyper::body::Incoming;
use std::io::Write as _;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The largest response head accepted (hyper's default limit is about 400 KiB; nginx's
/// `proxy_buffer_size` default is 4-8 KiB).
pub const MAX_HEAD: usize = 64 * 1024;
/// The most response headers accepted (hyper's default is 100).
const MAX_HEADERS: usize = 128;
/// How much is read at a time.
const READ_CHUNK: usize = 8 * 1024;
/// A chunk-size line or trailer section longer than this is an error.
const MAX_CHUNK_LINE: usize = 4 * 1024;
/// Request bodies up to this size are written with the head in one syscall.
const COALESCE: usize = 16 * 1024;

/// The body of a request going upstream.
pub enum OutBody {
    /// Held in memory (empty, or buffered so it can be retried): replayable.
    Bytes(Bytes),
    /// The client's body, streamed as it arrives: written once.
    Stream(crate::body::Idle<Incoming>),
}

/// A request ready for an HTTP/1.1 upstream.
pub struct Request {
    /// Request line and headers, with the framing header weir chose.
    head: Vec<u8>,
    body: Option<OutBody>,
    chunked: bool,
    /// HEAD: the answer has no body whatever its headers say.
    head_method: bool,
    /// The request asks for an upgrade: only then may the answer be a `101`.
    upgrade: bool,
    /// Safe to send again when a reused connection turns out to be closed.
    idempotent: bool,
    /// The answer's headers are wanted as [`RawHeaders`], not a `HeaderMap`.
    raw_head: bool,
    /// Where `103 Early Hints` go, for a client that can be sent them.
    interim: Option<std::sync::Arc<Interim>>,
}

impl Request {
    /// Asks for the answer's headers as [`RawHeaders`] (see there), for a writer that
    /// copies them to an HTTP/1.1 client as they are.
    pub fn want_raw_head(&mut self) {
        self.raw_head = true;
    }

    /// Relays the `103 Early Hints` the upstream sends before its answer to `to`.
    pub fn relay_early_hints(&mut self, to: std::sync::Arc<Interim>) {
        self.interim = Some(to);
    }

    /// Encodes a request in origin form (`/path?query`). `host` is used when the headers
    /// have no `host`. The client's own framing headers (`content-length`,
    /// `transfer-encoding`) are replaced by what `body` needs; with `forwarded`, so are
    /// its `x-forwarded-*` headers, by weir's.
    pub fn encode(
        method: &Method,
        path_and_query: &str,
        headers: &HeaderMap,
        host: &str,
        body: OutBody,
        forwarded: Option<Forwarded<'_>>,
    ) -> Self {
        let mut head = Vec::with_capacity(256 + headers.len() * 32);
        head.extend_from_slice(method.as_str().as_bytes());
        head.push(b' ');
        head.extend_from_slice(path_and_query.as_bytes());
        head.extend_from_slice(b" HTTP/1.1\r\n");
        if !headers.contains_key(header::HOST) {
            head.extend_from_slice(b"host: ");
            head.extend_from_slice(host.as_bytes());
            head.extend_from_slice(b"\r\n");
        }
        let mut had_length = false;
        let mut client_sent_for = false;
        // Seen in the copy loop rather than looked up: a map lookup per request costs more.
        let mut upgrade = false;
        for (name, value) in headers {
            upgrade |= name == header::UPGRADE;
            if name == header::CONTENT_LENGTH {
                had_length = true;
                continue;
            }
            if name == header::TRANSFER_ENCODING {
                continue;
            }
            if forwarded.is_some() {
                if name == X_FORWARDED_FOR {
                    client_sent_for = true;
                    continue;
                }
                if name == X_FORWARDED_PROTO {
                    continue;
                }
            }
            head.extend_from_slice(name.as_str().as_bytes());
            head.extend_from_slice(b": ");
            head.extend_from_slice(value.as_bytes());
            head.extend_from_slice(b"\r\n");
        }
        if let Some(f) = forwarded {
            f.write_lines(headers, client_sent_for, &mut head);
        }
        let length = match &body {
            OutBody::Bytes(b) => Some(b.len() as u64),
            OutBody::Stream(s) => s.size_hint().exact(),
        };
        let mut chunked = false;
        match length {
            // A bodiless GET stays bodiless; a POST with an empty body says so.
            Some(0) if !had_length && !method_has_body(method) => {}
            Some(n) => {
                head.extend_from_slice(b"content-length: ");
                head.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
                head.extend_from_slice(b"\r\n");
            }
            None => {
                head.extend_from_slice(b"transfer-encoding: chunked\r\n");
                chunked = true;
            }
        }
        head.extend_from_slice(b"\r\n");
        Request {
            head,
            body: Some(body),
            chunked,
            head_method: method == Method::HEAD,
            upgrade,
            raw_head: false,
            interim: None,
            idempotent: matches!(
                *method,
                Method::GET
                    | Method::HEAD
                    | Method::OPTIONS
                    | Method::PUT
                    | Method::DELETE
                    | Method::TRACE
            ),
        }
    }

    /// Whether the request can be sent again (its body is still held).
    fn replayable(&self) -> bool {
        matches!(self.body, Some(OutBody::Bytes(_)))
    }
}

fn method_has_body(m: &Method) -> bool {
    matches!(*m, Method::POST | Method::PUT | Method::PATCH)
}

/// Why a round trip failed.
#[derive(Debug)]
pub enum Error {
    /// The connection failed: reset, closed early, or a write failed.
    Io(String),
    /// The upstream's answer was not valid HTTP/1.1.
    Protocol(String),
    /// The client's request body failed while it was being forwarded.
    ClientBody(String),
    /// The client stopped sending its request body for this long.
    ClientIdle(std::time::Duration),
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Io(m) | Error::Protocol(m) => f.write_str(m),
            Error::ClientBody(m) => write!(f, "the client's request body failed: {m}"),
            Error::ClientIdle(d) => {
                write!(f, "the client sent no more of its request body for {d:?}")
            }
        }
    }
}

/// A failed round trip, and whether it may be sent again on another connection: the
/// upstream sent nothing back, and either nothing reached it (a write failed) or the
/// request is idempotent. This is the keep-alive race: a server closes an idle
/// connection just as weir picks it.
pub struct Failure {
    pub error: Error,
    pub retry: bool,
}

/// One HTTP/1.1 connection to an upstream.
pub struct Conn {
    pub(super) io: TcpStream,
    /// Bytes read and not yet consumed.
    pub(super) buf: BytesMut,
}

impl Conn {
    pub fn new(io: TcpStream) -> Self {
        Conn {
            io,
            buf: BytesMut::new(),
        }
    }

    /// Whether an idle connection still looks open: nothing has arrived on it (an upstream
    /// closing it shows up as readable). No system call unless it is readable.
    pub fn looks_open(&self) -> bool {
        if !self.buf.is_empty() {
            return false;
        }
        let mut cx = Context::from_waker(std::task::Waker::noop());
        match self.io.poll_read_ready(&mut cx) {
            Poll::Pending => true,
            Poll::Ready(Err(_)) => false,
            Poll::Ready(Ok(())) => {
                let mut probe = [0u8; 1];
                matches!(self.io.try_read(&mut probe), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
            }
        }
    }

    /// Writes `req` and reads the response head. `reused`: the connection carried a
    /// request before (so a failure with nothing read may be the keep-alive race).
    pub async fn round_trip(&mut self, req: &mut Request, reused: bool) -> Result<Head, Failure> {
        let wrote_all = self.write_request(req).await;
        if let Err(error) = wrote_all {
            // A write that failed on a reused connection reached nobody.
            let retry = reused
                && req.replayable()
                && !matches!(error, Error::ClientBody(_) | Error::ClientIdle(_))
                && self.buf.is_empty();
            return Err(Failure { error, retry });
        }
        match self.read_head(req).await {
            Ok(head) => Ok(head),
            Err((error, read_nothing)) => Err(Failure {
                retry: reused && read_nothing && req.idempotent && req.replayable(),
                error,
            }),
        }
    }

    async fn write_request(&mut self, req: &mut Request) -> Result<(), Error> {
        let io_err = |e: std::io::Error| Error::Io(format!("writing the request: {e}"));
        match req.body.as_ref() {
            Some(OutBody::Bytes(b)) if b.len() <= COALESCE => {
                if b.is_empty() {
                    self.io.write_all(&req.head).await.map_err(io_err)?;
                } else {
                    let mut all = Vec::with_capacity(req.head.len() + b.len());
                    all.extend_from_slice(&req.head);
                    all.extend_from_slice(b);
                    self.io.write_all(&all).await.map_err(io_err)?;
                }
            }
            Some(OutBody::Bytes(b)) => {
                self.io.write_all(&req.head).await.map_err(io_err)?;
                self.io.write_all(b).await.map_err(io_err)?;
            }
            Some(OutBody::Stream(_)) => {
                self.io.write_all(&req.head).await.map_err(io_err)?;
                let Some(OutBody::Stream(mut body)) = req.body.take() else {
                    unreachable!("matched above")
                };
                while let Some(frame) =
                    std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await
                {
                    let frame =
                        frame.map_err(|e| match e.downcast::<crate::body::IdleTimeout>() {
                            Ok(t) => Error::ClientIdle(t.0),
                            Err(e) => Error::ClientBody(e.to_string()),
                        })?;
                    let Ok(data) = frame.into_data() else {
                        continue; // trailers are not forwarded
                    };
                    if data.is_empty() {
                        continue;
                    }
                    if req.chunked {
                        let mut framed = Vec::with_capacity(data.len() + 16);
                        let _ = write!(framed, "{:x}\r\n", data.len());
                        framed.extend_from_slice(&data);
                        framed.extend_from_slice(b"\r\n");
                        self.io.write_all(&framed).await.map_err(io_err)?;
                    } else {
                        self.io.write_all(&data).await.map_err(io_err)?;
                    }
                }
                if req.chunked {
                    self.io.write_all(b"0\r\n\r\n").await.map_err(io_err)?;
                }
            }
            None => return Err(Error::ClientBody("already sent once".into())),
        }
        Ok(())
    }

    /// Reads until a final response head (1xx answers other than 101 are skipped).
    /// On error, also says whether nothing at all was read.
    async fn read_head(&mut self, req: &Request) -> Result<Head, (Error, bool)> {
        let mut read_any = false;
        loop {
            if !self.buf.is_empty() {
                match head::parse(
                    &mut self.buf,
                    req.head_method,
                    req.raw_head,
                    req.upgrade,
                    req.interim.as_deref(),
                ) {
                    Ok(Some(head)) => return Ok(head),
                    Ok(None) if self.buf.len() >= MAX_HEAD => {
                        let e = format!("the response head is larger than {MAX_HEAD} bytes");
                        return Err((Error::Protocol(e), false));
                    }
                    Ok(None) => {}
                    Err(e) => return Err((Error::Protocol(e), false)),
                }
            }
            self.buf.reserve(READ_CHUNK);
            match self.io.read_buf(&mut self.buf).await {
                Ok(0) => {
                    let e = if read_any {
                        "the upstream closed the connection in the middle of the response head"
                    } else {
                        "the upstream closed the connection before answering"
                    };
                    return Err((Error::Io(e.into()), !read_any));
                }
                Ok(_) => read_any = true,
                Err(e) => return Err((Error::Io(format!("reading the response: {e}")), !read_any)),
            }
        }
    }

    /// The bytes already read past the response head, and the socket: what a tunnel
    /// (after `101 Switching Protocols`) starts from.
    pub fn into_upgraded(self) -> (TcpStream, Bytes) {
        (self.io, self.buf.freeze())
    }
}
