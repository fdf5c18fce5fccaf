//! The client's side of a case: a plain or TLS connection to weir, and the responses
//! read off it, parsed as a strict client would (so whatever weir sends that a client
//! could misread shows up).

use crate::format::Transport;
use crate::support::raw::tls_connect;
use crate::support::recorder::{self, show};
use std::time::Instant;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite};
use tokio::net::TcpStream;

/// A client connection: plain or TLS.
pub trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// A connection to weir's listener; over TLS, with `http/1.1` chosen by ALPN.
pub async fn connect(t: Transport, addr: std::net::SocketAddr, der: &[u8]) -> Box<dyn Io> {
    let tcp = TcpStream::connect(addr).await.unwrap();
    tcp.set_nodelay(true).unwrap();
    match t {
        Transport::Plain => Box::new(tcp),
        Transport::Tls => {
            let h11: &[u8] = b"http/1.1";
            Box::new(tls_connect(tcp, "localhost", der, &[h11], Some(h11)).await)
        }
    }
}

/// How much of a response has arrived.
#[derive(Clone, Debug, PartialEq)]
pub enum State {
    Complete,
    /// More bytes are needed and the connection is still open.
    Partial,
    /// The connection closed before the body's end.
    Truncated,
}

/// A response as the client read it.
#[derive(Clone, Debug)]
pub struct Resp {
    pub status: u16,
    /// The head as received, with its final empty line.
    pub head: Vec<u8>,
    pub headers: Vec<(Vec<u8>, Vec<u8>)>,
    /// Decoded (chunked framing removed).
    pub body: Vec<u8>,
    pub state: State,
    /// `none`, `length`, `chunked` or `close`.
    pub framing: &'static str,
}

impl Resp {
    pub fn values(&self, name: &str) -> Vec<&[u8]> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name.as_bytes()))
            .map(|(_, v)| v.as_slice())
            .collect()
    }

    pub fn is_final(&self) -> bool {
        self.status >= 200 || self.status == 101
    }

    /// Problems with the head as a client would parse it.
    pub fn head_problems(&self) -> Vec<String> {
        let mut p = Vec::new();
        let h = &self.head[..self.head.len() - 4];
        for (i, &b) in h.iter().enumerate() {
            if b == b'\r' && h.get(i + 1) != Some(&b'\n') {
                p.push("bare CR in the response head".to_string());
            }
            if b == b'\n' && (i == 0 || h[i - 1] != b'\r') {
                p.push("bare LF in the response head".to_string());
            }
            if b == 0 {
                p.push("NUL in the response head".to_string());
            }
            if b == b'\n' && matches!(h.get(i + 1), Some(b' ' | b'\t')) {
                p.push("a folded (obs-fold) line in the response head".to_string());
            }
        }
        let cl = self.values("content-length");
        let te = self.values("transfer-encoding");
        if cl.len() > 1 {
            p.push("more than one content-length".to_string());
        }
        if !cl.is_empty() && !te.is_empty() {
            p.push("both content-length and transfer-encoding".to_string());
        }
        if te.len() > 1
            || te
                .first()
                .is_some_and(|v| !v.eq_ignore_ascii_case(b"chunked"))
        {
            p.push("a transfer-encoding other than chunked".to_string());
        }
        p.dedup();
        p
    }

    pub fn summary(&self) -> String {
        let err = self
            .values("x-weir-error")
            .first()
            .map(|v| format!(" x-weir-error={}", show(v)))
            .unwrap_or_default();
        let state = match self.state {
            State::Complete => "",
            State::Partial => " (incomplete, still reading)",
            State::Truncated => " (TRUNCATED by close)",
        };
        format!(
            "{} [{}{}] body {:?}{}",
            self.status,
            self.framing,
            err,
            clip(&show(&self.body), 120),
            state
        )
    }
}

pub fn clip(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let cut: String = s.chars().take(n).collect();
        format!("{cut}...({} chars)", s.chars().count())
    }
}

/// What the client has seen on a connection.
#[derive(Debug, Default)]
pub struct Seen {
    pub responses: Vec<Resp>,
    /// Bytes that are no response (after the last one that parsed), and why.
    pub garbage: Option<(String, Vec<u8>)>,
}

impl Seen {
    /// Forgets the final response at index `n` and everything after it.
    pub fn truncate_finals(&mut self, n: usize) {
        let at = self
            .responses
            .iter()
            .enumerate()
            .filter(|(_, r)| r.is_final() && r.state != State::Partial)
            .nth(n)
            .map(|(i, _)| i);
        if let Some(i) = at {
            self.responses.truncate(i);
            self.garbage = None;
        }
    }

    pub fn finals(&self) -> Vec<&Resp> {
        self.responses
            .iter()
            .filter(|r| r.is_final() && r.state != State::Partial)
            .collect()
    }
}

/// A chunked body decoded as far as it goes: the body, the bytes used, and whether the
/// last chunk and trailer section were seen (`Err` when the framing is broken).
pub fn dechunk_partial(buf: &[u8]) -> (Vec<u8>, usize, Result<bool, String>) {
    let mut body = Vec::new();
    let mut at = 0;
    loop {
        let Some(eol) = recorder::find(&buf[at..], b"\r\n") else {
            return (body, at, Ok(false));
        };
        let line = &buf[at..at + eol];
        let size_part = line.split(|&b| b == b';').next().unwrap_or_default();
        if size_part.is_empty()
            || size_part.len() > 15
            || !size_part.iter().all(u8::is_ascii_hexdigit)
        {
            return (
                body,
                at,
                Err(format!("bad chunk-size line {:?}", show(line))),
            );
        }
        let size = usize::from_str_radix(std::str::from_utf8(size_part).unwrap(), 16).unwrap();
        let data = at + eol + 2;
        if size == 0 {
            let mut t = data;
            loop {
                let Some(eol) = recorder::find(&buf[t..], b"\r\n") else {
                    return (body, at, Ok(false));
                };
                t += eol + 2;
                if eol == 0 {
                    return (body, t, Ok(true));
                }
            }
        }
        let avail = buf.len().saturating_sub(data).min(size);
        if avail < size || buf.len() < data + size + 2 {
            body.extend_from_slice(&buf[data..data + avail]);
            return (body, buf.len(), Ok(false));
        }
        body.extend_from_slice(&buf[data..data + size]);
        if &buf[data + size..data + size + 2] != b"\r\n" {
            return (body, at, Err("chunk data not followed by CRLF".into()));
        }
        at = data + size + 2;
    }
}

/// Parses the responses in `buf`. `head_first`: the first final response answers a HEAD.
pub fn parse_responses(buf: &[u8], head_first: bool, eof: bool) -> Seen {
    let mut seen = Seen::default();
    let mut at = 0;
    let mut finals = 0;
    while at < buf.len() {
        let rest = &buf[at..];
        let Some(end) = recorder::find(rest, b"\r\n\r\n") else {
            if eof || rest.len() > 1 << 20 {
                seen.garbage = Some(("no complete response head".into(), rest.to_vec()));
            }
            break;
        };
        let head = &rest[..end + 4];
        let text = String::from_utf8_lossy(&head[..end]);
        let mut lines = text.split("\r\n");
        let status_line = lines.next().unwrap_or_default();
        let status = status_line
            .strip_prefix("HTTP/1.")
            .filter(|s| s.len() >= 5 && s.as_bytes()[1] == b' ')
            .and_then(|s| s[2..5].parse::<u16>().ok())
            .filter(|_| status_line.len() == 12 || status_line.as_bytes().get(12) == Some(&b' '));
        let Some(status) = status else {
            seen.garbage = Some(("not a status line".into(), rest.to_vec()));
            break;
        };
        let headers: Vec<(Vec<u8>, Vec<u8>)> = recorder_lines(&head[..end])
            .into_iter()
            .skip(1)
            .filter_map(|l| {
                let c = l.iter().position(|&b| b == b':')?;
                Some((l[..c].to_vec(), recorder::trim_ows(&l[c + 1..]).to_vec()))
            })
            .collect();
        let mut r = Resp {
            status,
            head: head.to_vec(),
            headers,
            body: Vec::new(),
            state: State::Complete,
            framing: "none",
        };
        let body_at = at + end + 4;
        let bodiless = status < 200
            || status == 204
            || status == 304
            || (head_first && finals == 0 && r.is_final());
        if r.is_final() {
            finals += 1;
        }
        if bodiless {
            at = body_at;
            seen.responses.push(r);
            if status == 101 {
                break;
            }
            continue;
        }
        let te = !r.values("transfer-encoding").is_empty();
        let cl = r.values("content-length").first().map(|v| v.to_vec());
        if te {
            r.framing = "chunked";
            let (body, used, state) = dechunk_partial(&buf[body_at..]);
            r.body = body;
            match state {
                Ok(true) => at = body_at + used,
                Ok(false) => {
                    r.state = if eof {
                        State::Truncated
                    } else {
                        State::Partial
                    };
                    seen.responses.push(r);
                    break;
                }
                Err(e) => {
                    r.state = State::Truncated;
                    seen.responses.push(r);
                    seen.garbage = Some((e, buf[body_at + used..].to_vec()));
                    break;
                }
            }
        } else if let Some(v) = cl {
            r.framing = "length";
            let n: usize = std::str::from_utf8(&v)
                .ok()
                .and_then(|s| s.parse().ok())
                .unwrap_or(usize::MAX);
            let avail = buf.len() - body_at;
            if avail < n {
                r.body = buf[body_at..].to_vec();
                r.state = if eof {
                    State::Truncated
                } else {
                    State::Partial
                };
                seen.responses.push(r);
                break;
            }
            r.body = buf[body_at..body_at + n].to_vec();
            at = body_at + n;
        } else {
            r.framing = "close";
            r.body = buf[body_at..].to_vec();
            if !eof {
                r.state = State::Partial;
            }
            seen.responses.push(r);
            break;
        }
        seen.responses.push(r);
    }
    seen
}

pub fn recorder_lines(head: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut rest = head;
    while let Some(i) = recorder::find(rest, b"\r\n") {
        out.push(&rest[..i]);
        rest = &rest[i + 2..];
    }
    out.push(rest);
    out
}

/// A client connection and everything read off it.
pub struct ClientConn {
    pub io: Box<dyn Io>,
    pub buf: Vec<u8>,
    /// Set once the server closed (or the read failed): how, and when.
    pub closed: Option<(String, Instant)>,
    pub head_first: bool,
}

impl ClientConn {
    pub fn new(io: Box<dyn Io>, head_first: bool) -> Self {
        ClientConn {
            io,
            buf: Vec::new(),
            closed: None,
            head_first,
        }
    }

    pub fn seen(&self) -> Seen {
        parse_responses(&self.buf, self.head_first, self.closed.is_some())
    }

    /// Reads until `enough` holds, the server closes, or `deadline`; returns when the
    /// first two happened.
    pub async fn read_until(
        &mut self,
        deadline: Instant,
        enough: impl Fn(&Seen) -> bool,
    ) -> Option<Instant> {
        let mut chunk = vec![0u8; 64 * 1024];
        loop {
            if let Some((_, at)) = &self.closed {
                return Some(*at);
            }
            if enough(&self.seen()) {
                return Some(Instant::now());
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            match tokio::time::timeout(left, self.io.read(&mut chunk)).await {
                Err(_) => return None,
                Ok(Ok(0)) => self.closed = Some(("closed".into(), Instant::now())),
                Ok(Ok(n)) => self.buf.extend_from_slice(&chunk[..n]),
                Ok(Err(e)) => self.closed = Some((format!("read failed: {e}"), Instant::now())),
            }
        }
    }
}
