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
