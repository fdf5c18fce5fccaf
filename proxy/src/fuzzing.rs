//! Entry points for the fuzz targets in `fuzz/` (cargo-fuzz, libFuzzer): thin wrappers that
//! run weir's parsers of outside input on bytes held in memory, the way its connections run
//! them. Not an API: nothing in weir calls these, and they may change with the parsers.
//!
//! - [`parse_request`]: `h1_server`'s decision on the bytes a client sent (serve, hand off
//!   to hyper, or 400), with the request it would serve.
//! - [`decode_response`]: an upstream's HTTP/1.1 answer fed in pieces as reads would bring
//!   it: the head through `h1::head::parse` (as `Conn::read_head` loops over it), then the
//!   body as `Head::body` and `H1Body::poll_frame` take it off the connection's buffer,
//!   the end of the input being the upstream closing the connection.
//! - [`decode_chunked`]: `h1::body::decode_chunk` alone, fed in pieces.

use bytes::{Bytes, BytesMut};

use crate::h1::body::{decode_chunk, Decoded};
use crate::h1::head::{self, Chunk, Framing};
use crate::h1_server::{self, Next};

/// What weir's HTTP/1.1 server does with the bytes at the front of a connection's buffer.
/// (As `h1_server::Next`: made once per call and matched at once.)
#[allow(clippy::large_enum_variant)]
pub enum Request {
    /// Served by weir itself: its head and body have been taken off the buffer.
    Serve {
        parts: http::request::Parts,
        body: Bytes,
        /// The client asked to close the connection after the answer.
        close: bool,
    },
    /// Handed to hyper's server with the buffer untouched.
    HandOff,
    /// Answered 400 and closed (the head has been taken off the buffer).
    Bad,
}

/// `h1_server::parse_request` on `buf`.
pub fn parse_request(buf: &mut BytesMut) -> Request {
    match h1_server::parse_request(buf) {
        Next::Serve(p) => Request::Serve {
            parts: p.parts,
            body: p.body,
            close: p.close,
        },
        Next::HandOff => Request::HandOff,
        Next::Bad => Request::Bad,
    }
}

/// What the request an answer belongs to asked for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Asked {
    /// It was a HEAD: the answer has no body whatever its headers say.
    pub head_method: bool,
    /// The headers are wanted as `RawHeaders` (what `h1_server` asks for).
    pub raw: bool,
    /// It asked for an upgrade (only then may the answer be a `101`).
    pub upgrade: bool,
}

/// How the answer's body was delimited.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyFraming {
    /// No body (HEAD, 1xx, 204, 304, `content-length: 0`).
    None,
    Length(u64),
    Chunked,
    /// Until the upstream closes the connection.
    Close,
}

/// How reading an answer ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Response {
    /// The head was refused: the request fails with 502.
    HeadError(String),
    /// The input ended (the upstream closed) before a final head was complete.
    HeadIncomplete,
    /// A final head, and as much of the body as the input held.
    Answer(Answer),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    /// Bytes the heads took off the front of the input (skipped 1xx heads included).
    pub heads_len: usize,
    pub framing: BodyFraming,
    /// The head lets the connection carry another request once the body is read.
    pub keep_alive: bool,
    /// The header lines kept for the client, `(name, value)`: `RawHeaders`' lines in order
    /// when asked raw (and not a 101), else the `HeaderMap`'s entries.
    pub headers: Vec<(Bytes, Bytes)>,
    /// The answer came as `RawHeaders`; with whether they hold a `date`.
    pub raw_has_date: Option<bool>,
    /// The body bytes as the client is sent them (before its own framing).
    pub body: Vec<u8>,
    /// `Ok` when the body ended as its framing says (close-delimited: at the end of the
    /// input), else the error the client's body fails with.
    pub end: Result<(), String>,
    /// Bytes of the input after the end of the body (or after where it failed): those
    /// already read into the connection's buffer and those not read yet.
    pub after_body: usize,
    /// The connection went back to its pool: the body ended with nothing after it in the
    /// buffer (bytes arriving later are the pool's check's to find). Depends on the reads.
    pub reused: bool,
}

/// Reads an answer from `pieces` (each one read's bytes; empty ones are skipped, a read of
/// nothing being the end) as an upstream HTTP/1.1 connection does. The head loop is
/// `Conn::read_head`'s; the body steps are `Head::body`'s and `H1Body::poll_frame`'s.
pub fn decode_response(pieces: &[&[u8]], asked: Asked) -> Response {
    let mut reads = pieces.iter().filter(|p| !p.is_empty());
    let total: usize = pieces.iter().map(|p| p.len()).sum();
    let mut buf = BytesMut::new();
    let mut fed = 0usize;
    let head = loop {
        if !buf.is_empty() {
            match head::parse(&mut buf, asked.head_method, asked.raw, asked.upgrade, None) {
                Ok(Some(head)) => break head,
                Ok(None) if buf.len() >= crate::h1::MAX_HEAD => {
                    return Response::HeadError("the response head is too large".into())
                }
                Ok(None) => {}
                Err(e) => return Response::HeadError(e),
            }
        }
        match reads.next() {
            Some(p) => {
                buf.extend_from_slice(p);
                fed += p.len();
            }
            None => return Response::HeadIncomplete,
        }
    };
    let heads_len = fed - buf.len();
    let (headers, raw_has_date) = match &head.raw {
        Some(raw) => (raw_lines(&raw.lines), Some(raw.has_date)),
        None => (
            head.headers
                .iter()
                .map(|(n, v)| {
                    (
                        Bytes::copy_from_slice(n.as_str().as_bytes()),
                        Bytes::copy_from_slice(v.as_bytes()),
                    )
                })
                .collect(),
            None,
        ),
    };
    let framing = match head.framing {
        Framing::Done => BodyFraming::None,
        Framing::Length(n) => BodyFraming::Length(n),
        Framing::Chunked(_) => BodyFraming::Chunked,
        Framing::Close => BodyFraming::Close,
    };
    let mut answer = Answer {
        status: head.status.as_u16(),
        heads_len,
        framing,
        keep_alive: head.keep_alive,
        headers,
        raw_has_date,
        body: Vec::new(),
        end: Ok(()),
        after_body: 0,
        reused: false,
    };
    // Head::body: the body is whole when the head's reads brought all of it.
    match head.framing {
        Framing::Done => {
            answer.after_body = buf.len() + (total - fed);
            answer.reused = head.keep_alive && buf.is_empty();
            return Response::Answer(answer);
        }
        Framing::Length(n) if buf.len() as u64 >= n => {
            answer.body = buf.split_to(n as usize).to_vec();
            answer.after_body = buf.len() + (total - fed);
            answer.reused = head.keep_alive && buf.is_empty();
            return Response::Answer(answer);
        }
        _ => {}
    }
    // H1Body::poll_frame, polled until the body ends.
    let mut framing = head.framing;
    let keep_alive = head.keep_alive;
    loop {
        let data = match &mut framing {
            Framing::Done => None,
            Framing::Length(left) if !buf.is_empty() => {
                let n = (*left).min(buf.len() as u64);
                *left -= n;
                if *left == 0 {
                    framing = Framing::Done;
                }
                Some(buf.split_to(n as usize).freeze())
            }
            Framing::Close if !buf.is_empty() => Some(buf.split().freeze()),
            Framing::Chunked(state) => match decode_chunk(state, &mut buf) {
                Ok(Decoded::Data(d)) => Some(d),
                Ok(Decoded::End) => {
                    framing = Framing::Done;
                    None
                }
                Ok(Decoded::NeedMore) => None,
                Err(e) => {
                    answer.end = Err(e);
                    answer.after_body = buf.len() + (total - fed);
                    return Response::Answer(answer);
                }
            },
            Framing::Length(_) | Framing::Close => None,
        };
        let gave = data.is_some();
        if let Some(data) = data {
            answer.body.extend_from_slice(&data);
        }
        if framing == Framing::Done {
            // finish(): back to the pool if nothing is left over.
            answer.after_body = buf.len() + (total - fed);
            answer.reused = keep_alive && buf.is_empty();
            return Response::Answer(answer);
        }
        if gave {
            continue; // poll_frame returned a frame; it is polled again before a read.
        }
        match reads.next() {
            Some(p) => {
                buf.extend_from_slice(p);
                fed += p.len();
            }
            None if framing == Framing::Close => {
                // The end of a close-delimited body: the connection is done.
                answer.after_body = buf.len() + (total - fed);
                return Response::Answer(answer);
            }
            None => {
                answer.end =
                    Err("the upstream closed the connection before the response body ended".into());
                answer.after_body = buf.len() + (total - fed);
                return Response::Answer(answer);
            }
        }
    }
}

/// `RawHeaders`' lines (`Name: value\r\n` each) as pairs.
fn raw_lines(lines: &[u8]) -> Vec<(Bytes, Bytes)> {
    let mut out = Vec::new();
    let mut rest = lines;
    while !rest.is_empty() {
        let end = rest
            .windows(2)
            .position(|w| w == b"\r\n")
            .unwrap_or(rest.len());
        let line = &rest[..end];
        let colon = line
            .windows(2)
            .position(|w| w == b": ")
            .unwrap_or(line.len());
        let value = line.get(colon + 2..).unwrap_or_default();
        out.push((
            Bytes::copy_from_slice(&line[..colon]),
            Bytes::copy_from_slice(value),
        ));
        rest = rest.get(end + 2..).unwrap_or_default();
    }
    out
}

/// How chunked decoding of some input ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Chunked {
    /// The last chunk and the trailer section were read; `leftover` is what follows them
    /// (left in the buffer, and in the pieces not fed yet).
    End { leftover: Vec<u8> },
    /// The input ended inside the chunked body.
    NeedMore,
    /// `decode_chunk` refused the input.
    Error(String),
}

/// `decode_chunk` over `pieces` fed one after another (each as one read), as a chunked
/// response body is decoded off an upstream connection: the body's data and how it ended.
pub fn decode_chunked(pieces: &[&[u8]]) -> (Vec<u8>, Chunked) {
    let mut state = Chunk::Size;
    let mut buf = BytesMut::new();
    let mut body = Vec::new();
    for (i, piece) in pieces.iter().enumerate() {
        buf.extend_from_slice(piece);
        loop {
            match decode_chunk(&mut state, &mut buf) {
                Ok(Decoded::Data(d)) => body.extend_from_slice(&d),
                Ok(Decoded::NeedMore) => break,
                Ok(Decoded::End) => {
                    let mut leftover = buf.to_vec();
                    leftover.extend(pieces[i + 1..].concat());
                    return (body, Chunked::End { leftover });
                }
                Err(e) => return (body, Chunked::Error(e)),
            }
        }
    }
    (body, Chunked::NeedMore)
}
