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

use crate::body::BodyError;
use bytes::{Buf, Bytes, BytesMut};
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Method, StatusCode};
use http_body::{Body, Frame};
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
    Stream(Incoming),
}

/// A request ready for an HTTP/1.1 upstream.
pub struct Request {
    /// Request line and headers, with the framing header weir chose.
    head: Vec<u8>,
    body: Option<OutBody>,
    chunked: bool,
    /// HEAD: the answer has no body whatever its headers say.
    head_method: bool,
    /// Safe to send again when a reused connection turns out to be closed.
    idempotent: bool,
}

impl Request {
    /// Encodes a request in origin form (`/path?query`). `host` is used when the headers
    /// have no `host`. The client's own framing headers (`content-length`,
    /// `transfer-encoding`) are replaced by what `body` needs.
    pub fn encode(
        method: &Method,
        path_and_query: &str,
        headers: &HeaderMap,
        host: &str,
        body: OutBody,
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
        for (name, value) in headers {
            if name == header::CONTENT_LENGTH {
                had_length = true;
                continue;
            }
            if name == header::TRANSFER_ENCODING {
                continue;
            }
            head.extend_from_slice(name.as_str().as_bytes());
            head.extend_from_slice(b": ");
            head.extend_from_slice(value.as_bytes());
            head.extend_from_slice(b"\r\n");
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
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Io(m) | Error::Protocol(m) => f.write_str(m),
            Error::ClientBody(m) => write!(f, "the client's request body failed: {m}"),
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

/// How the response body is delimited (RFC 9112 section 6.3).
#[derive(Debug, Clone, Copy, PartialEq)]
enum Framing {
    Length(u64),
    Chunked(Chunk),
    /// Until the upstream closes the connection.
    Close,
    Done,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Chunk {
    /// Expecting a chunk-size line.
    Size,
    /// Inside a chunk's data, this much left.
    Data(u64),
    /// Expecting the CRLF after a chunk's data.
    DataEnd,
    /// After the last chunk: trailer lines up to an empty line.
    Trailers,
}

/// A parsed response head.
pub struct Head {
    pub status: StatusCode,
    pub headers: HeaderMap,
    framing: Framing,
    /// The connection can carry another request once the body is read.
    keep_alive: bool,
}

/// One HTTP/1.1 connection to an upstream.
pub struct Conn {
    io: TcpStream,
    /// Bytes read and not yet consumed.
    buf: BytesMut,
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
                && !matches!(error, Error::ClientBody(_))
                && self.buf.is_empty();
            return Err(Failure { error, retry });
        }
        match self.read_head(req.head_method).await {
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
                    let frame = frame.map_err(|e| Error::ClientBody(e.to_string()))?;
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
    async fn read_head(&mut self, head_method: bool) -> Result<Head, (Error, bool)> {
        let mut read_any = false;
        loop {
            if !self.buf.is_empty() {
                match parse_head(&mut self.buf, head_method) {
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

/// Parses a complete response head at the start of `buf`, consuming it. `Ok(None)` when
/// more bytes are needed. Informational answers (1xx except 101) are consumed and skipped.
///
/// The headers come out ready for the client: hop-by-hop headers (RFC 9110 7.6.1) and
/// those the `connection` header names are left out (except on a `101`, whose `upgrade`
/// and `connection` the client needs), so the proxy does not make a second pass.
fn parse_head(buf: &mut BytesMut, head_method: bool) -> Result<Option<Head>, String> {
    loop {
        let mut slots =
            [const { std::mem::MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_HEADERS];
        let mut resp = httparse::Response::new(&mut []);
        let parsed = httparse::ParserConfig::default()
            .parse_response_with_uninit_headers(&mut resp, buf, &mut slots);
        let len = match parsed {
            Ok(httparse::Status::Complete(n)) => n,
            Ok(httparse::Status::Partial) => return Ok(None),
            Err(e) => return Err(format!("invalid response head: {e}")),
        };
        let code = resp.code.unwrap_or(0);
        let status =
            StatusCode::from_u16(code).map_err(|_| format!("invalid response status {code}"))?;
        if status.is_informational() && status != StatusCode::SWITCHING_PROTOCOLS {
            buf.advance(len);
            if buf.is_empty() {
                return Ok(None);
            }
            continue;
        }
        let upgrade = status == StatusCode::SWITCHING_PROTOCOLS;
        let mut keep_alive = resp.version == Some(1);
        // The framing, from the raw headers.
        let mut transfer_encoding: Option<&[u8]> = None;
        let mut length: Option<u64> = None;
        // `connection` values; kept (allocated) only when they name headers to drop,
        // which the common `keep-alive` or `close` does not.
        let mut names_listed = false;
        for h in resp.headers.iter() {
            if !h.name.eq_ignore_ascii_case("connection") {
                continue;
            }
            for token in h.value.split(|b| *b == b',').map(<[u8]>::trim_ascii) {
                if token.eq_ignore_ascii_case(b"close") {
                    keep_alive = false;
                } else if !token.is_empty() && !token.eq_ignore_ascii_case(b"keep-alive") {
                    names_listed = true;
                }
            }
        }
        let connection: Vec<&[u8]> = if names_listed {
            resp.headers
                .iter()
                .filter(|h| h.name.eq_ignore_ascii_case("connection"))
                .map(|h| h.value)
                .collect()
        } else {
            Vec::new()
        };
        // Header values become views of the head's bytes, not copies: note where each
        // kept header is, then freeze the head.
        let mut spans = [(0u32, 0u32, 0u32, 0u32); MAX_HEADERS];
        let mut kept = 0;
        let base = buf.as_ptr() as usize;
        for h in resp.headers.iter() {
            let name = h.name.as_bytes();
            if name.eq_ignore_ascii_case(b"transfer-encoding") {
                transfer_encoding = Some(h.value);
            } else if name.eq_ignore_ascii_case(b"content-length") {
                for part in h.value.split(|b| *b == b',') {
                    let part = part.trim_ascii();
                    let n = std::str::from_utf8(part)
                        .ok()
                        .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
                        .and_then(|s| s.parse::<u64>().ok())
                        .ok_or_else(|| "invalid content-length in the response".to_string())?;
                    if length.is_some_and(|l| l != n) {
                        return Err("conflicting content-length values in the response".into());
                    }
                    length = Some(n);
                }
            }
            if !upgrade && (is_hop_by_hop(name) || connection.iter().any(|v| has_token(v, name))) {
                continue;
            }
            let n = h.name.as_ptr() as usize - base;
            let v = h.value.as_ptr() as usize - base;
            spans[kept] = (
                n as u32,
                (n + name.len()) as u32,
                v as u32,
                (v + h.value.len()) as u32,
            );
            kept += 1;
        }
        let framing = if head_method
            || upgrade
            || status == StatusCode::NO_CONTENT
            || status == StatusCode::NOT_MODIFIED
        {
            Framing::Done
        } else if let Some(te) = transfer_encoding {
            // RFC 9112 6.3: transfer-encoding overrides content-length, and a message
            // with both must not leave the connection reusable.
            if length.take().is_some() {
                keep_alive = false;
            }
            let last = te.rsplit(|b| *b == b',').next().unwrap_or_default();
            if last.trim_ascii().eq_ignore_ascii_case(b"chunked") {
                Framing::Chunked(Chunk::Size)
            } else {
                keep_alive = false;
                Framing::Close
            }
        } else {
            match length {
                Some(0) => Framing::Done,
                Some(n) => Framing::Length(n),
                None => {
                    keep_alive = false;
                    Framing::Close
                }
            }
        };
        let overridden_length = transfer_encoding.is_some() && length.is_none();
        drop(connection);
        let head = buf.split_to(len).freeze();
        let mut headers = HeaderMap::with_capacity(kept);
        for &(ns, ne, vs, ve) in &spans[..kept] {
            let name = &head[ns as usize..ne as usize];
            // transfer-encoding is hop-by-hop (dropped above, except on a 101); a
            // content-length that transfer-encoding overrode is dropped too.
            if overridden_length && name.eq_ignore_ascii_case(b"content-length") {
                continue;
            }
            let name = HeaderName::from_bytes(name)
                .map_err(|_| "invalid response header name".to_string())?;
            let value = HeaderValue::from_maybe_shared(head.slice(vs as usize..ve as usize))
                .map_err(|_| format!("invalid value of response header {name}"))?;
            headers.append(name, value);
        }
        return Ok(Some(Head {
            status,
            headers,
            framing,
            keep_alive,
        }));
    }
}

/// Hop-by-hop header names (RFC 9110 7.6.1), as raw bytes in any case.
fn is_hop_by_hop(name: &[u8]) -> bool {
    const NAMES: [&[u8]; 9] = [
        b"connection",
        b"keep-alive",
        b"proxy-connection",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
    ];
    NAMES
        .iter()
        .any(|n| n.len() == name.len() && n.eq_ignore_ascii_case(name))
}

fn has_token(list: &[u8], token: &[u8]) -> bool {
    list.split(|b| *b == b',')
        .any(|t| t.trim_ascii().eq_ignore_ascii_case(token))
}

/// What to do with a connection once its response body has been read.
pub trait Recycle: Send + Sync {
    fn recycle(&self, conn: Conn);
}

/// A response body read from an HTTP/1.1 connection. When it has been read to the end
/// the connection goes back to its pool (if it can carry another request); dropped
/// early, the connection is closed.
pub struct H1Body {
    conn: Option<Conn>,
    framing: Framing,
    keep_alive: bool,
    recycle: Option<std::sync::Arc<dyn Recycle>>,
}

/// A response body, as read right after the head.
pub enum Read {
    /// The whole body was already in the buffer (or there is none): the connection is
    /// free again.
    Whole(Bytes, Option<Conn>),
    /// The body streams from the connection.
    Streaming(H1Body),
}

impl Head {
    /// Splits off the body: already whole when the head's read brought all of it.
    pub fn body(&self, mut conn: Conn, recycle: std::sync::Arc<dyn Recycle>) -> Read {
        match self.framing {
            Framing::Done => {
                let reusable = self.keep_alive && conn.buf.is_empty();
                Read::Whole(Bytes::new(), reusable.then_some(conn))
            }
            Framing::Length(n) if conn.buf.len() as u64 >= n => {
                let body = conn.buf.split_to(n as usize).freeze();
                let reusable = self.keep_alive && conn.buf.is_empty();
                Read::Whole(body, reusable.then_some(conn))
            }
            framing => Read::Streaming(H1Body {
                conn: Some(conn),
                framing,
                keep_alive: self.keep_alive,
                recycle: Some(recycle),
            }),
        }
    }

    pub fn is_upgrade(&self) -> bool {
        self.status == StatusCode::SWITCHING_PROTOCOLS
    }
}

impl H1Body {
    fn finish(&mut self) {
        self.framing = Framing::Done;
        if let (Some(conn), Some(recycle)) = (self.conn.take(), self.recycle.take()) {
            if self.keep_alive && conn.buf.is_empty() {
                recycle.recycle(conn);
            }
        }
    }

    fn fail(&mut self, e: String) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        self.framing = Framing::Done;
        self.conn = None;
        Poll::Ready(Some(Err(e.into())))
    }

    pub fn is_end_stream(&self) -> bool {
        self.framing == Framing::Done
    }

    pub fn size_hint(&self) -> http_body::SizeHint {
        match self.framing {
            Framing::Length(n) => http_body::SizeHint::with_exact(n),
            Framing::Done => http_body::SizeHint::with_exact(0),
            _ => http_body::SizeHint::default(),
        }
    }

    pub fn poll_frame(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        loop {
            let Some(conn) = self.conn.as_mut() else {
                return Poll::Ready(None);
            };
            let data = match &mut self.framing {
                Framing::Done => None,
                Framing::Length(left) if !conn.buf.is_empty() => {
                    let n = (*left).min(conn.buf.len() as u64);
                    *left -= n;
                    if *left == 0 {
                        self.framing = Framing::Done;
                    }
                    Some(conn.buf.split_to(n as usize).freeze())
                }
                Framing::Close if !conn.buf.is_empty() => Some(conn.buf.split().freeze()),
                Framing::Chunked(state) => match decode_chunk(state, &mut conn.buf) {
                    Ok(Decoded::Data(d)) => Some(d),
                    Ok(Decoded::End) => {
                        self.framing = Framing::Done;
                        None
                    }
                    Ok(Decoded::NeedMore) => None,
                    Err(e) => return self.fail(e),
                },
                Framing::Length(_) | Framing::Close => None,
            };
            if self.framing == Framing::Done {
                // Back to the pool now: the reader may drop the body without polling again.
                self.finish();
            }
            if let Some(data) = data {
                return Poll::Ready(Some(Ok(Frame::data(data))));
            }
            if self.framing == Framing::Done {
                return Poll::Ready(None);
            }
            let conn = self.conn.as_mut().expect("checked above");
            conn.buf.reserve(READ_CHUNK);
            match tokio_util::io::poll_read_buf(Pin::new(&mut conn.io), cx, &mut conn.buf) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Err(e)) => {
                    return self.fail(format!("reading the upstream's response body: {e}"))
                }
                Poll::Ready(Ok(0)) if self.framing == Framing::Close => {
                    self.keep_alive = false;
                    self.finish();
                    return Poll::Ready(None);
                }
                Poll::Ready(Ok(0)) => {
                    return self.fail(
                        "the upstream closed the connection before the response body ended".into(),
                    )
                }
                Poll::Ready(Ok(_)) => {}
            }
        }
    }
}

impl Drop for H1Body {
    fn drop(&mut self) {
        if self.framing == Framing::Done {
            self.finish();
        }
    }
}

/// One step of chunked decoding.
enum Decoded {
    Data(Bytes),
    NeedMore,
    /// The last chunk and the trailers have been read.
    End,
}

/// Decodes chunked framing from `buf`, one piece of chunk data at a time.
fn decode_chunk(state: &mut Chunk, buf: &mut BytesMut) -> Result<Decoded, String> {
    loop {
        match *state {
            Chunk::Size => match httparse::parse_chunk_size(buf) {
                Ok(httparse::Status::Complete((used, size))) => {
                    buf.advance(used);
                    *state = if size == 0 {
                        Chunk::Trailers
                    } else {
                        Chunk::Data(size)
                    };
                }
                Ok(httparse::Status::Partial) if buf.len() > MAX_CHUNK_LINE => {
                    return Err("a chunk-size line is too long".into())
                }
                Ok(httparse::Status::Partial) => return Ok(Decoded::NeedMore),
                Err(_) => return Err("invalid chunk size in the response body".into()),
            },
            Chunk::Data(left) => {
                if buf.is_empty() {
                    return Ok(Decoded::NeedMore);
                }
                let n = left.min(buf.len() as u64);
                *state = if n == left {
                    Chunk::DataEnd
                } else {
                    Chunk::Data(left - n)
                };
                return Ok(Decoded::Data(buf.split_to(n as usize).freeze()));
            }
            Chunk::DataEnd => {
                if buf.len() < 2 {
                    return Ok(Decoded::NeedMore);
                }
                if &buf[..2] != b"\r\n" {
                    return Err("a chunk is not followed by CRLF".into());
                }
                buf.advance(2);
                *state = Chunk::Size;
            }
            Chunk::Trailers => {
                // Trailer lines (dropped), then an empty line.
                let Some(end) = buf.windows(2).position(|w| w == b"\r\n") else {
                    if buf.len() > MAX_CHUNK_LINE {
                        return Err("the response trailers are too long".into());
                    }
                    return Ok(Decoded::NeedMore);
                };
                buf.advance(end + 2);
                if end == 0 {
                    return Ok(Decoded::End);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};
    use std::time::Duration;
    use tokio::net::TcpListener;

    /// Keeps what comes back, to check whether a connection was reused.
    #[derive(Default)]
    struct Pool(Mutex<Vec<Conn>>);

    impl Recycle for Pool {
        fn recycle(&self, conn: Conn) {
            self.0.lock().unwrap().push(conn);
        }
    }

    /// A raw upstream: reads one request (head, and a body by content-length or up to
    /// `0\r\n\r\n` when chunked), sends `answer` in pieces with pauses (so the client sees
    /// partial reads), then closes if `close`. Returns the address and the request bytes.
    async fn upstream(
        answer: Vec<&'static [u8]>,
        close: bool,
    ) -> (
        std::net::SocketAddr,
        tokio::sync::oneshot::Receiver<Vec<u8>>,
    ) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel();
        tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut got = Vec::new();
            let mut chunk = [0u8; 4096];
            loop {
                let text = String::from_utf8_lossy(&got).to_ascii_lowercase();
                if let Some(end) = text.find("\r\n\r\n") {
                    let body = &text[end + 4..];
                    let done = if text.contains("transfer-encoding: chunked") {
                        body.ends_with("0\r\n\r\n")
                    } else {
                        let want = text
                            .lines()
                            .find_map(|l| l.strip_prefix("content-length: "))
                            .map_or(0, |n| n.trim().parse::<usize>().unwrap());
                        body.len() >= want
                    };
                    if done {
                        break;
                    }
                }
                let n = s.read(&mut chunk).await.unwrap();
                if n == 0 {
                    break;
                }
                got.extend_from_slice(&chunk[..n]);
            }
            let _ = tx.send(got);
            for piece in answer {
                s.write_all(piece).await.unwrap();
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            if close {
                drop(s);
            } else {
                tokio::time::sleep(Duration::from_secs(5)).await;
            }
        });
        (addr, rx)
    }

    fn get() -> Request {
        Request::encode(
            &Method::GET,
            "/x?y=1",
            &HeaderMap::new(),
            "10.0.0.1:80",
            OutBody::Bytes(Bytes::new()),
        )
    }

    /// One round trip; the body read to its end. Returns the head, the body (or its
    /// error) and whether the connection went back to the pool.
    async fn call(
        answer: Vec<&'static [u8]>,
        close: bool,
        mut req: Request,
    ) -> (Result<Head, String>, Result<Bytes, String>, bool, Vec<u8>) {
        let (addr, sent) = upstream(answer, close).await;
        let mut conn = Conn::new(TcpStream::connect(addr).await.unwrap());
        let pool = Arc::new(Pool::default());
        let head = match conn.round_trip(&mut req, false).await {
            Ok(h) => h,
            Err(f) => {
                return (
                    Err(f.error.to_string()),
                    Err(String::new()),
                    false,
                    sent.await.unwrap(),
                )
            }
        };
        let body = match head.body(conn, pool.clone()) {
            Read::Whole(b, conn) => {
                if let Some(c) = conn {
                    pool.recycle(c);
                }
                Ok(b)
            }
            Read::Streaming(mut b) => {
                let mut all = Vec::new();
                let mut result = Ok(());
                while let Some(frame) = std::future::poll_fn(|cx| b.poll_frame(cx)).await {
                    match frame {
                        Ok(f) => all.extend_from_slice(&f.into_data().unwrap()),
                        Err(e) => {
                            result = Err(e.to_string());
                            break;
                        }
                    }
                }
                result.map(|()| Bytes::from(all))
            }
        };
        let reused = !pool.0.lock().unwrap().is_empty();
        (Ok(head), body, reused, sent.await.unwrap())
    }

    #[tokio::test]
    async fn a_chunked_body_in_small_pieces_is_decoded_and_the_connection_reused() {
        let answer: Vec<&[u8]> = vec![
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\nx-a: 1\r\n\r\n5\r\nhel",
            b"lo\r\n",
            b"6;ext=1\r\n world\r",
            b"\n0\r\nx-trailer: t\r\n",
            b"\r\n",
        ];
        let (head, body, reused, _) = call(answer, false, get()).await;
        let head = head.unwrap();
        assert_eq!(head.status, 200);
        assert_eq!(body.unwrap(), "hello world");
        assert!(
            head.headers.get("transfer-encoding").is_none(),
            "hop-by-hop"
        );
        assert_eq!(head.headers["x-a"], "1");
        assert!(
            reused,
            "a chunked body read to its end frees the connection"
        );
    }

    #[tokio::test]
    async fn a_length_body_streams_and_a_whole_one_comes_with_the_head() {
        let (head, body, reused, _) = call(
            vec![
                b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\n01234",
                b"56789",
            ],
            false,
            get(),
        )
        .await;
        assert_eq!(head.unwrap().headers["content-length"], "10");
        assert_eq!(body.unwrap(), "0123456789");
        assert!(reused);
        let (_, body, reused, _) = call(
            vec![b"HTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\nabc"],
            false,
            get(),
        )
        .await;
        assert_eq!(body.unwrap(), "abc");
        assert!(reused);
    }

    #[tokio::test]
    async fn a_body_up_to_close_is_read_and_the_connection_not_reused() {
        let (head, body, reused, _) = call(
            vec![b"HTTP/1.1 200 OK\r\n\r\nuntil", b" the end"],
            true,
            get(),
        )
        .await;
        assert_eq!(head.unwrap().status, 200);
        assert_eq!(body.unwrap(), "until the end");
        assert!(!reused);
        // HTTP/1.0 and `connection: close` answers are not reused either.
        let (_, body, reused, _) = call(
            vec![b"HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 2\r\n\r\nok"],
            true,
            get(),
        )
        .await;
        assert_eq!(body.unwrap(), "ok");
        assert!(!reused);
        let (_, _, reused, _) = call(
            vec![b"HTTP/1.0 200 OK\r\ncontent-length: 2\r\n\r\nok"],
            true,
            get(),
        )
        .await;
        assert!(!reused);
    }

    #[tokio::test]
    async fn a_body_cut_short_is_an_error() {
        let (_, body, reused, _) = call(
            vec![b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nshort"],
            true,
            get(),
        )
        .await;
        assert!(body.unwrap_err().contains("before the response body ended"));
        assert!(!reused);
        let (_, body, _, _) = call(
            vec![b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nab"],
            true,
            get(),
        )
        .await;
        assert!(body.is_err());
    }

    #[tokio::test]
    async fn informational_answers_are_skipped() {
        let (head, body, _, _) = call(
            vec![b"HTTP/1.1 100 Continue\r\n\r\n", b"HTTP/1.1 103 Early Hints\r\nlink: </a>\r\n\r\nHTTP/1.1 201 Created\r\ncontent-length: 1\r\n\r\nk"],
            false,
            get(),
        )
        .await;
        let head = head.unwrap();
        assert_eq!(head.status, 201);
        assert!(head.headers.get("link").is_none());
        assert_eq!(body.unwrap(), "k");
    }

    #[tokio::test]
    async fn framing_conflicts_follow_rfc_9112() {
        // transfer-encoding wins over content-length, which is dropped, and the
        // connection is not reused.
        let (head, body, reused, _) = call(
            vec![b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\ntransfer-encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n"],
            false,
            get(),
        )
        .await;
        assert!(head.unwrap().headers.get("content-length").is_none());
        assert_eq!(body.unwrap(), "ok");
        assert!(!reused);
        let (head, _, _, _) = call(
            vec![b"HTTP/1.1 200 OK\r\ncontent-length: 1\r\ncontent-length: 2\r\n\r\nok"],
            false,
            get(),
        )
        .await;
        assert!(head.err().unwrap().contains("conflicting content-length"));
        let (head, _, _, _) = call(
            vec![b"HTTP/1.1 200 OK\r\ncontent-length: -1\r\n\r\n"],
            false,
            get(),
        )
        .await;
        assert!(head.err().unwrap().contains("invalid content-length"));
        let (head, _, _, _) = call(vec![b"HTTP/1.1 2000 Nope\r\n\r\n"], false, get()).await;
        assert!(head.err().unwrap().contains("invalid response"));
    }

    #[tokio::test]
    async fn hop_by_hop_headers_go_except_on_a_101() {
        let (head, _, _, _) = call(
            vec![b"HTTP/1.1 200 OK\r\nConnection: keep-alive, X-Private\r\nKeep-Alive: timeout=5\r\nx-private: 1\r\nUpgrade: h2c\r\nx-public: 2\r\ncontent-length: 0\r\n\r\n"],
            false,
            get(),
        )
        .await;
        let names: Vec<String> = head
            .unwrap()
            .headers
            .keys()
            .map(|k| k.to_string())
            .collect();
        assert_eq!(names, ["x-public", "content-length"]);
        let (head, _, _, _) = call(
            vec![b"HTTP/1.1 101 Switching Protocols\r\nconnection: upgrade\r\nupgrade: websocket\r\n\r\n"],
            false,
            get(),
        )
        .await;
        let head = head.unwrap();
        assert!(head.is_upgrade());
        assert_eq!(head.headers["upgrade"], "websocket");
        assert_eq!(head.headers["connection"], "upgrade");
    }

    #[tokio::test]
    async fn an_oversized_head_is_refused() {
        let big: &'static [u8] = Box::leak(
            format!("HTTP/1.1 200 OK\r\nx-big: {}\r\n", "a".repeat(MAX_HEAD))
                .into_bytes()
                .into_boxed_slice(),
        );
        let (head, _, _, _) = call(vec![big], false, get()).await;
        assert!(head.err().unwrap().contains("larger than"));
    }

    #[tokio::test]
    async fn requests_carry_the_framing_their_body_needs() {
        let ok: Vec<&[u8]> = vec![b"HTTP/1.1 204 No Content\r\n\r\n"];
        // A GET without a body says nothing about one; the host is added when missing.
        let (_, _, _, sent) = call(ok.clone(), false, get()).await;
        assert_eq!(
            String::from_utf8(sent).unwrap(),
            "GET /x?y=1 HTTP/1.1\r\nhost: 10.0.0.1:80\r\n\r\n"
        );
        // A POST says its length, even 0; the client's own framing headers are replaced.
        let mut h = HeaderMap::new();
        h.insert(header::HOST, "app.example".parse().unwrap());
        h.insert(header::CONTENT_LENGTH, "999".parse().unwrap());
        h.insert(header::TRANSFER_ENCODING, "chunked".parse().unwrap());
        let post = |body: &'static [u8]| {
            Request::encode(
                &Method::POST,
                "/p",
                &h,
                "x",
                OutBody::Bytes(Bytes::from_static(body)),
            )
        };
        let (_, _, _, sent) = call(ok.clone(), false, post(b"")).await;
        assert_eq!(
            String::from_utf8(sent).unwrap(),
            "POST /p HTTP/1.1\r\nhost: app.example\r\ncontent-length: 0\r\n\r\n"
        );
        let (_, _, _, sent) = call(ok.clone(), false, post(b"hello")).await;
        assert_eq!(
            String::from_utf8(sent).unwrap(),
            "POST /p HTTP/1.1\r\nhost: app.example\r\ncontent-length: 5\r\n\r\nhello"
        );
    }

    #[tokio::test]
    async fn a_head_answer_has_no_body_whatever_it_announces() {
        let req = Request::encode(
            &Method::HEAD,
            "/",
            &HeaderMap::new(),
            "h",
            OutBody::Bytes(Bytes::new()),
        );
        let (head, body, reused, _) = call(
            vec![b"HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\n"],
            false,
            req,
        )
        .await;
        assert_eq!(head.unwrap().headers["content-length"], "1000");
        assert!(body.unwrap().is_empty());
        assert!(reused);
    }

    #[tokio::test]
    async fn an_idle_connection_the_upstream_closed_does_not_look_open() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let conn = Conn::new(TcpStream::connect(addr).await.unwrap());
        let (server_side, _) = listener.accept().await.unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(conn.looks_open());
        drop(server_side);
        // The close arrives as readiness on the next turn of the I/O driver.
        let mut open = true;
        for _ in 0..100 {
            tokio::time::sleep(Duration::from_millis(5)).await;
            open = conn.looks_open();
            if !open {
                break;
            }
        }
        assert!(!open);
    }

    #[tokio::test]
    async fn a_streamed_request_body_of_unknown_length_goes_chunked() {
        // A real client body (hyper's Incoming) of unknown length, through a proxy-like
        // hop: a tiny hyper server hands its request body to `Request::encode`.
        let (addr, sent) = upstream(vec![b"HTTP/1.1 204 No Content\r\n\r\n"], false).await;
        let front = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let front_addr = front.local_addr().unwrap();
        tokio::spawn(async move {
            let (s, _) = front.accept().await.unwrap();
            let svc = hyper::service::service_fn(move |req: http::Request<Incoming>| async move {
                let (parts, body) = req.into_parts();
                let mut out = Request::encode(
                    &parts.method,
                    "/up",
                    &parts.headers,
                    "h",
                    OutBody::Stream(body),
                );
                let mut conn = Conn::new(TcpStream::connect(addr).await.unwrap());
                let head = conn
                    .round_trip(&mut out, false)
                    .await
                    .map_err(|f| f.error.to_string())?;
                Ok::<_, String>(
                    http::Response::builder()
                        .status(head.status)
                        .body(http_body_util::Empty::<Bytes>::new())
                        .unwrap(),
                )
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(hyper_util::rt::TokioIo::new(s), svc)
                .await;
        });
        let mut s = TcpStream::connect(front_addr).await.unwrap();
        s.write_all(
            b"POST /in HTTP/1.1\r\nhost: h\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n",
        )
        .await
        .unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
        s.write_all(b"2\r\nde\r\n0\r\n\r\n").await.unwrap();
        let sent = String::from_utf8(sent.await.unwrap()).unwrap();
        assert!(sent.starts_with("POST /up HTTP/1.1\r\n"), "{sent}");
        assert!(sent.contains("transfer-encoding: chunked\r\n"), "{sent}");
        assert!(
            sent.ends_with("\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"),
            "{sent}"
        );
    }
}
