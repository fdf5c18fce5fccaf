//! Response bodies read from an upstream HTTP/1.1 connection: content-length, chunked
//! or up to close, decoded from the connection's own buffer.

use super::head::{Chunk, Framing, Head};
use super::{Conn, MAX_CHUNK_LINE, READ_CHUNK};
use crate::body::BodyError;
use bytes::{Buf, Bytes, BytesMut};
use http_body::Frame;
use std::pin::Pin;
use std::task::{Context, Poll};

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
    /// Splits off the body: already whole when the head's read brought all of it. A
    /// chunked body whose first size line, already read, is broken is an error here, while
    /// the client can still be answered 502 instead of getting a cut answer.
    pub fn body(
        &self,
        mut conn: Conn,
        recycle: std::sync::Arc<dyn Recycle>,
    ) -> Result<Read, String> {
        if let Framing::Chunked(Chunk::Size) = self.framing {
            chunk_size_line(&conn.buf)?;
        }
        Ok(match self.framing {
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
        })
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
pub(crate) enum Decoded {
    Data(Bytes),
    NeedMore,
    /// The last chunk and the trailers have been read.
    End,
}

/// Decodes chunked framing from `buf`, one piece of chunk data at a time (RFC 9112
/// section 7.1). Lines end in CRLF or, as section 2.2 lets a recipient accept, a bare LF;
/// a bare CR anywhere in the framing is an error. A chunk-size line is 1 to 16 hex digits,
/// then optionally extensions (`;` after optional whitespace, ignored but checked for
/// control bytes). Trailer lines are read and dropped.
pub(crate) fn decode_chunk(state: &mut Chunk, buf: &mut BytesMut) -> Result<Decoded, String> {
    loop {
        match *state {
            Chunk::Size => {
                let Some((used, size)) = chunk_size_line(buf)? else {
                    return Ok(Decoded::NeedMore);
                };
                buf.advance(used);
                *state = if size == 0 {
                    Chunk::Trailers
                } else {
                    Chunk::Data(size)
                };
            }
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
                let used = match buf.first() {
                    None => return Ok(Decoded::NeedMore),
                    Some(b'\n') => 1,
                    Some(b'\r') => match buf.get(1) {
                        None => return Ok(Decoded::NeedMore),
                        Some(b'\n') => 2,
                        Some(_) => return Err("a chunk is not followed by a line end".into()),
                    },
                    Some(_) => return Err("a chunk is not followed by a line end".into()),
                };
                buf.advance(used);
                *state = Chunk::Size;
            }
            Chunk::Trailers => {
                // Trailer lines (dropped), then an empty line.
                let Some(lf) = buf.iter().position(|&b| b == b'\n') else {
                    if buf.len() > MAX_CHUNK_LINE {
                        return Err("the response trailers are too long".into());
                    }
                    return Ok(Decoded::NeedMore);
                };
                let line = buf[..lf].strip_suffix(b"\r").unwrap_or(&buf[..lf]);
                if line.iter().any(|&b| b == b'\r' || b == 0) {
                    return Err("a trailer line has a bare CR or a NUL".into());
                }
                let empty = line.is_empty();
                buf.advance(lf + 1);
                if empty {
                    return Ok(Decoded::End);
                }
            }
        }
    }
}

/// A chunk-size line at the start of `buf`: `Ok(None)` when incomplete, else how many
/// bytes it took and the size.
pub(crate) fn chunk_size_line(buf: &[u8]) -> Result<Option<(usize, u64)>, String> {
    let invalid = || Err("invalid chunk size in the response body".to_string());
    let Some(lf) = buf
        .iter()
        .take(MAX_CHUNK_LINE + 1)
        .position(|&b| b == b'\n')
    else {
        if buf.len() > MAX_CHUNK_LINE {
            return Err("a chunk-size line is too long".into());
        }
        // Fail early on what can never become a size line.
        let digits = buf.iter().take_while(|b| b.is_ascii_hexdigit()).count();
        return match buf.get(digits) {
            _ if digits > 16 => invalid(),
            None => Ok(None),
            Some(b'\r' | b';' | b' ' | b'\t') if digits > 0 => Ok(None),
            Some(_) => invalid(),
        };
    };
    let line = buf[..lf].strip_suffix(b"\r").unwrap_or(&buf[..lf]);
    let digits = line.iter().take_while(|b| b.is_ascii_hexdigit()).count();
    if digits == 0 || digits > 16 {
        return invalid();
    }
    let rest = &line[digits..];
    // Extensions: optional whitespace, then `;` and anything visible (RFC 9112 7.1.1).
    let blanks = rest
        .iter()
        .take_while(|&&b| b == b' ' || b == b'\t')
        .count();
    let ext = &rest[blanks..];
    if !rest.is_empty() && !ext.starts_with(b";") {
        return invalid();
    }
    if ext.iter().any(|&b| (b < 0x20 && b != b'\t') || b == 0x7f) {
        return invalid();
    }
    let mut size = 0u64;
    for &d in &line[..digits] {
        let v = (d as char).to_digit(16).expect("a hex digit") as u64;
        size = size << 4 | v;
    }
    Ok(Some((lf + 1, size)))
}
