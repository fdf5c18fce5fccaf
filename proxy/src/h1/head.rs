//! Response heads: parsed in place, framed by RFC 9112, ready for the client.

use super::MAX_HEADERS;
use crate::headers::{has_token, is_hop_by_hop_name};
use bytes::{Buf, Bytes, BytesMut};
use http::header::{HeaderMap, HeaderName, HeaderValue};
use http::StatusCode;

/// How the response body is delimited (RFC 9112 section 6.3).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Framing {
    Length(u64),
    Chunked(Chunk),
    /// Until the upstream closes the connection.
    Close,
    Done,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Chunk {
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
    /// Empty when the head was asked for as [`RawHeaders`] (and `raw` holds them).
    pub headers: HeaderMap,
    pub raw: Option<RawHeaders>,
    pub(crate) framing: Framing,
    /// The connection can carry another request once the body is read.
    pub(crate) keep_alive: bool,
}

/// The response's end-to-end header lines as the upstream sent them (`Name: value\r\n`
/// each), for a client-side writer that only copies them on: weir's own HTTP/1.1 server.
/// Hop-by-hop headers are already left out, and so is `content-length` wherever the
/// writer frames the body itself (it is kept on answers to HEAD and on 204 and 304, whose
/// writer sends no body and no length of its own). Building a `HeaderMap` that the writer
/// would only serialize again is most of what parsing a response head costs.
#[derive(Clone, Debug)]
pub struct RawHeaders {
    pub lines: Bytes,
    pub has_date: bool,
}

impl Head {
    pub fn is_upgrade(&self) -> bool {
        self.status == StatusCode::SWITCHING_PROTOCOLS
    }
}

/// Parses a complete response head at the start of `buf`, consuming it. `Ok(None)` when
/// more bytes are needed. Informational answers (1xx except 101) are consumed and skipped.
///
/// The headers come out ready for the client: hop-by-hop headers (RFC 9110 7.6.1) and
/// those the `connection` header names are left out (except on a `101`, whose `upgrade`
/// and `connection` the client needs), so the proxy does not make a second pass.
///
/// With `raw`, the kept headers come out as [`RawHeaders`] instead of a `HeaderMap`
/// (never on a `101`, whose headers the upgrade needs).
///
/// A `101` to a request that asked for no upgrade (`upgrade_asked` false) is an error: the
/// connection would no longer carry HTTP, and the client did not ask for anything else.
///
/// A `103 Early Hints` goes to `interim`, when given, as a head for the client (its
/// end-to-end headers); other informational answers are dropped.
pub(crate) fn parse(
    buf: &mut BytesMut,
    head_method: bool,
    raw: bool,
    upgrade_asked: bool,
    interim: Option<&super::Interim>,
) -> Result<Option<Head>, String> {
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
            if let (Some(interim), 103) = (interim, code) {
                let mut head = b"HTTP/1.1 103 Early Hints\r\n".to_vec();
                for h in resp.headers.iter() {
                    if !is_hop_by_hop_name(h.name.as_bytes())
                        && !h.name.eq_ignore_ascii_case("content-length")
                    {
                        head.extend_from_slice(h.name.as_bytes());
                        head.extend_from_slice(b": ");
                        head.extend_from_slice(h.value);
                        head.extend_from_slice(b"\r\n");
                    }
                }
                head.extend_from_slice(b"\r\n");
                interim.push(&head);
            }
            buf.advance(len);
            if buf.is_empty() {
                return Ok(None);
            }
            continue;
        }
        let upgrade = status == StatusCode::SWITCHING_PROTOCOLS;
        if upgrade && !upgrade_asked {
            return Err(
                "the upstream switched protocols (101) though the request asked for no upgrade"
                    .into(),
            );
        }
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
        // How many content-length values came (lines, and comma-separated in a line).
        let mut length_values = 0u32;
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
                    length_values += 1;
                }
            }
            if !upgrade
                && (is_hop_by_hop_name(name) || connection.iter().any(|v| has_token(v, name)))
            {
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
        // RFC 9112 6.3: a message with both must not leave the connection reusable, and an
        // intermediary removes the content-length before forwarding it, whatever the status.
        if transfer_encoding.is_some() && length.is_some() {
            keep_alive = false;
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
        let overridden_length = transfer_encoding.is_some();
        // Equal values repeated (`2, 2`, or two lines) are accepted as one (RFC 9110 8.6)
        // but not forwarded so: every line goes, and one `content-length` is written where
        // one is kept.
        let single_length = (length_values > 1 && !overridden_length)
            .then_some(length)
            .flatten();
        drop(connection);
        if raw && !upgrade {
            // The writer sends no length of its own only where it sends no body.
            let keep_length = head_method
                || status == StatusCode::NO_CONTENT
                || status == StatusCode::NOT_MODIFIED;
            let mut lines = Vec::with_capacity(len);
            let mut has_date = false;
            for &(ns, ne, vs, ve) in &spans[..kept] {
                let name = &buf[ns as usize..ne as usize];
                if name.eq_ignore_ascii_case(b"content-length")
                    && (overridden_length || !keep_length || single_length.is_some())
                {
                    continue;
                }
                has_date |= name.eq_ignore_ascii_case(b"date");
                lines.extend_from_slice(name);
                lines.extend_from_slice(b": ");
                lines.extend_from_slice(&buf[vs as usize..ve as usize]);
                lines.extend_from_slice(b"\r\n");
            }
            if let (Some(n), true) = (single_length, keep_length) {
                lines.extend_from_slice(b"content-length: ");
                lines.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
                lines.extend_from_slice(b"\r\n");
            }
            buf.advance(len);
            return Ok(Some(Head {
                status,
                headers: HeaderMap::new(),
                raw: Some(RawHeaders {
                    lines: Bytes::from(lines),
                    has_date,
                }),
                framing,
                keep_alive,
            }));
        }
        let head = buf.split_to(len).freeze();
        let mut headers = HeaderMap::with_capacity(kept);
        for &(ns, ne, vs, ve) in &spans[..kept] {
            let name = &head[ns as usize..ne as usize];
            // transfer-encoding is hop-by-hop (dropped above, except on a 101); a
            // content-length that transfer-encoding overrode is dropped too.
            if (overridden_length || single_length.is_some())
                && name.eq_ignore_ascii_case(b"content-length")
            {
                continue;
            }
            let name = HeaderName::from_bytes(name)
                .map_err(|_| "invalid response header name".to_string())?;
            let value = HeaderValue::from_maybe_shared(head.slice(vs as usize..ve as usize))
                .map_err(|_| format!("invalid value of response header {name}"))?;
            headers.append(name, value);
        }
        if let Some(n) = single_length {
            headers.insert(http::header::CONTENT_LENGTH, HeaderValue::from(n));
        }
        return Ok(Some(Head {
            status,
            headers,
            raw: None,
            framing,
            keep_alive,
        }));
    }
}
