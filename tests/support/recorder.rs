//! A recording backend for byte-level tests: raw TCP listeners on 127.0.0.1:0 (one per
//! name, e.g. one per route) that keep every byte each connection receives, split those
//! bytes into requests as a strict HTTP/1.1 server would, and answer each request with an
//! echo (`200`, body `METHOD TARGET`) or, for the first request of the current case, with
//! scripted raw bytes ([`Action`]).
//!
//! Cases run one after another: [`Recorder::next_case`] closes every connection, forgets
//! what was received and sets the next script, so what a snapshot holds is what the
//! current case made the proxy send. A request whose line is exactly
//! `GET /__probe/... HTTP/1.1` is a probe: always echoed, never scripted, and set apart
//! from the case's requests.

use parking_lot::Mutex;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// One step of a scripted answer.
#[derive(Clone, Debug)]
pub enum Action {
    Send(Vec<u8>),
    Wait(Duration),
    /// Closes the connection (the rest of the script is not run).
    Close,
    /// Sends these bytes again and again, this far apart, until the case ends.
    Trickle(Vec<u8>, Duration),
    /// Answers nothing more on this connection (still reading) until the case ends.
    Silent,
}

/// How a request's body was delimited.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Framing {
    None,
    Length(u64),
    Chunked,
}

/// One request as the backend parsed it.
#[derive(Clone, Debug)]
pub struct Request {
    /// The listener's name.
    pub route: String,
    pub conn: u64,
    /// The whole message as received (head and framed body).
    pub raw: Vec<u8>,
    /// The request line, without its CRLF.
    pub line: Vec<u8>,
    /// Header lines as received: name (case kept), value without surrounding whitespace.
    pub headers: Vec<(Vec<u8>, Vec<u8>)>,
    pub framing: Framing,
    /// The body, decoded.
    pub body: Vec<u8>,
    /// What a strict server would hold against the message (ambiguous framing, a second
    /// `Host`, a bare CR...); a proxy should never forward any of these.
    pub problems: Vec<String>,
}

impl Request {
    pub fn is_probe(&self) -> bool {
        is_probe_line(&self.line)
    }

    /// The values of every header line named `name` (any case).
    pub fn header_values(&self, name: &str) -> Vec<&[u8]> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name.as_bytes()))
            .map(|(_, v)| v.as_slice())
            .collect()
    }
}

fn is_probe_line(line: &[u8]) -> bool {
    line.starts_with(b"GET /__probe/")
        && line.ends_with(b" HTTP/1.1")
        && line.iter().filter(|&&b| b == b' ').count() == 2
}

/// What one connection received.
#[derive(Clone, Debug, Default)]
pub struct ConnLog {
    pub route: String,
    pub id: u64,
    pub bytes: Vec<u8>,
    pub requests: Vec<Request>,
    /// How far `bytes` has been parsed into `requests`.
    pub parsed_to: usize,
    /// Why the rest could not be parsed, if it could not.
    pub error: Option<String>,
}

impl ConnLog {
    /// The bytes after the last whole request: a request that never completed, or bytes
    /// that are no request at all.
    pub fn leftover(&self) -> &[u8] {
        &self.bytes[self.parsed_to..]
    }

    /// Whether anything other than probes arrived on this connection.
    pub fn got_anything_but_probes(&self) -> bool {
        !self.leftover().is_empty() || self.requests.iter().any(|r| !r.is_probe())
    }
}

struct State {
    epoch: u64,
    next_id: u64,
    /// The answer to the case's first request; taken by it.
    script: Option<Vec<Action>>,
    conns: Vec<ConnLog>,
}

struct Shared {
    state: Mutex<State>,
    /// Connections still being served.
    live: AtomicUsize,
}

/// Counts a connection as live while it is served.
struct Live(Arc<Shared>);

impl Drop for Live {
    fn drop(&mut self) {
        self.0.live.fetch_sub(1, Ordering::SeqCst);
    }
}

pub struct Recorder {
    shared: Arc<Shared>,
    epoch: watch::Sender<u64>,
    pub listeners: Vec<(String, SocketAddr)>,
}

impl Recorder {
    /// One listener per name.
    pub async fn start(names: &[&str]) -> Recorder {
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                epoch: 0,
                next_id: 0,
                script: None,
                conns: Vec::new(),
            }),
            live: AtomicUsize::new(0),
        });
        let (epoch, _) = watch::channel(0u64);
        let mut listeners = Vec::new();
        for name in names {
            let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
            listeners.push((name.to_string(), l.local_addr().unwrap()));
            let shared = shared.clone();
            let rx = epoch.subscribe();
            let name = name.to_string();
            tokio::spawn(async move {
                loop {
                    let Ok((s, _)) = l.accept().await else {
                        return;
                    };
                    let _ = s.set_nodelay(true);
                    let id = {
                        let mut st = shared.state.lock();
                        st.next_id += 1;
                        let id = st.next_id;
                        st.conns.push(ConnLog {
                            route: name.clone(),
                            id,
                            ..ConnLog::default()
                        });
                        id
                    };
                    let mut rx = rx.clone();
                    // Seen: `changed` then waits for the next case.
                    let epoch_now = *rx.borrow_and_update();
                    shared.live.fetch_add(1, Ordering::SeqCst);
                    let live = Live(shared.clone());
                    tokio::spawn(async move {
                        serve(s, id, epoch_now, live.0.clone(), rx).await;
                        drop(live);
                    });
                }
            });
        }
        Recorder {
            shared,
            epoch,
            listeners,
        }
    }

    pub fn addr(&self, name: &str) -> SocketAddr {
        self.listeners
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, a)| *a)
            .unwrap_or_else(|| panic!("no listener {name}"))
    }

    /// Starts a case: closes every connection, forgets everything received, and sets
    /// the answer to the case's first (non-probe) request (`None`: the echo).
    pub async fn next_case(&self, script: Option<Vec<Action>>) {
        {
            let mut st = self.shared.state.lock();
            st.epoch += 1;
            st.conns.clear();
            st.script = script;
            self.epoch.send_replace(st.epoch);
        }
        // Every connection closed (up to a second), and the closes seen by the proxy, so
        // its pool does not pick a dead connection.
        let deadline = Instant::now() + Duration::from_secs(1);
        while self.shared.live.load(Ordering::SeqCst) > 0 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }

    /// What every connection has received so far in this case.
    pub fn snapshot(&self) -> Vec<ConnLog> {
        self.shared.state.lock().conns.clone()
    }
}

/// Serves one connection until it closes or the case ends.
async fn serve(
    mut s: TcpStream,
    id: u64,
    epoch: u64,
    shared: Arc<Shared>,
    mut rx: watch::Receiver<u64>,
) {
    let mut silent = false;
    let mut chunk = vec![0u8; 16 * 1024];
    loop {
        // Answer every request that is complete.
        loop {
            let next = {
                let mut st = shared.state.lock();
                if st.epoch != epoch {
                    return;
                }
                let State { conns, script, .. } = &mut *st;
                let Some(c) = conns.iter_mut().find(|c| c.id == id) else {
                    return;
                };
                if c.error.is_some() {
                    None
                } else {
                    match parse_request(&c.bytes[c.parsed_to..]) {
                        Ok(Some((mut req, used))) => {
                            req.route = c.route.clone();
                            req.conn = id;
                            c.parsed_to += used;
                            let answer = if req.is_probe() { None } else { script.take() };
                            c.requests.push(req.clone());
                            Some((req, answer))
                        }
                        Ok(None) => None,
                        Err(e) => {
                            c.error = Some(e);
                            None
                        }
                    }
                }
            };
            let Some((req, script)) = next else { break };
            if silent {
                continue;
            }
            let script = script.unwrap_or_else(|| vec![Action::Send(echo(&req))]);
            for action in script {
                match action {
                    Action::Send(bytes) => {
                        if s.write_all(&bytes).await.is_err() {
                            return;
                        }
                    }
                    Action::Wait(d) => {
                        tokio::select! {
                            _ = tokio::time::sleep(d) => {}
                            _ = rx.changed() => return,
                        }
                    }
                    Action::Close => return,
                    Action::Trickle(bytes, every) => loop {
                        if s.write_all(&bytes).await.is_err() {
                            return;
                        }
                        tokio::select! {
                            _ = tokio::time::sleep(every) => {}
                            _ = rx.changed() => return,
                        }
                    },
                    Action::Silent => {
                        silent = true;
                        break;
                    }
                }
            }
        }
        let n = tokio::select! {
            r = s.read(&mut chunk) => match r {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            },
            _ = rx.changed() => return,
        };
        let mut st = shared.state.lock();
        if st.epoch != epoch {
            return;
        }
        if let Some(c) = st.conns.iter_mut().find(|c| c.id == id) {
            c.bytes.extend_from_slice(&chunk[..n]);
        }
    }
}

/// The echo answer: `200`, body `METHOD TARGET` of the request (to a HEAD, the head
/// only, with the length the body would have).
pub fn echo(req: &Request) -> Vec<u8> {
    let mut words = req.line.splitn(3, |&b| b == b' ');
    let mut body = words.next().unwrap_or_default().to_vec();
    body.push(b' ');
    body.extend_from_slice(words.next().unwrap_or_default());
    let mut out = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    if !req.line.starts_with(b"HEAD ") {
        out.extend_from_slice(&body);
    }
    out
}

/// The largest head the backend waits for.
const MAX_HEAD: usize = 1 << 20;

/// One request off the front of `buf`: `Ok(None)` when more bytes are needed, `Err` when
/// the bytes cannot be a request (the connection's bytes are not parsed any further).
pub fn parse_request(buf: &[u8]) -> Result<Option<(Request, usize)>, String> {
    let Some(end) = find(buf, b"\r\n\r\n") else {
        if buf.len() > MAX_HEAD {
            return Err("no end of head within 1 MiB".into());
        }
        return Ok(None);
    };
    let head = &buf[..end];
    let mut problems = Vec::new();
    for (i, &b) in head.iter().enumerate() {
        let next = head.get(i + 1).copied();
        let prev = i.checked_sub(1).map(|p| head[p]);
        if b == b'\r' && next != Some(b'\n') {
            problems.push(format!("bare CR in the head at byte {i}"));
        }
        if b == b'\n' && prev != Some(b'\r') {
            problems.push(format!("bare LF in the head at byte {i}"));
        }
        if b == 0 {
            problems.push(format!("NUL in the head at byte {i}"));
        }
    }
    let mut lines = split(head, b"\r\n").into_iter();
    let line = lines.next().unwrap_or_default().to_vec();
    let words: Vec<&[u8]> = line.split(|&b| b == b' ').collect();
    if words.len() != 3 || words.iter().any(|w| w.is_empty()) {
        problems.push("request line is not METHOD SP TARGET SP VERSION".into());
    } else {
        if !words[0].iter().all(|&b| is_tchar(b)) {
            problems.push("method is not a token".into());
        }
        if words[2] != b"HTTP/1.1" {
            problems.push("version is not HTTP/1.1".into());
        }
        let t = words[1];
        let star = t == b"*" && words[0] == b"OPTIONS";
        if !(t.starts_with(b"/") || star) {
            problems.push("target is not in origin form".into());
        }
        if t.iter().any(|&b| b <= b' ' || b == 0x7f) {
            problems.push("target has a control byte or space".into());
        }
    }
    let mut headers = Vec::new();
    for l in lines {
        if l.first().is_some_and(|&b| b == b' ' || b == b'\t') {
            problems.push("obs-fold (a line starting with whitespace)".into());
            continue;
        }
        let Some(colon) = l.iter().position(|&b| b == b':') else {
            problems.push(format!("header line without a colon: {:?}", show(l)));
            continue;
        };
        let name = &l[..colon];
        if name.is_empty() || !name.iter().all(|&b| is_tchar(b)) {
            problems.push(format!("header name is not a token: {:?}", show(name)));
        }
        let value = trim_ows(&l[colon + 1..]);
        if value.iter().any(|&b| (b < 0x20 && b != b'\t') || b == 0x7f) {
            problems.push(format!("control byte in the value of {:?}", show(name)));
        }
        headers.push((name.to_vec(), value.to_vec()));
    }
    let named = |n: &str| -> Vec<&[u8]> {
        headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(n.as_bytes()))
            .map(|(_, v): &(Vec<u8>, Vec<u8>)| v.as_slice())
            .collect()
    };
    let hosts = named("host");
    if hosts.len() != 1 {
        problems.push(format!("{} Host header lines", hosts.len()));
    }
    let te = named("transfer-encoding");
    let cl = named("content-length");
    if !te.is_empty() && !cl.is_empty() {
        problems.push("both Transfer-Encoding and Content-Length".into());
    }
    if cl.len() > 1 {
        problems.push("more than one Content-Length line".into());
    }
    let body_at = end + 4;
    let (framing, body, used) = if !te.is_empty() {
        let codings: Vec<&[u8]> = te
            .iter()
            .flat_map(|v| v.split(|&b| b == b','))
            .map(trim_ows)
            .collect();
        if codings.len() != 1 || codings[0] != b"chunked" {
            problems.push(format!(
                "Transfer-Encoding other than one lowercase chunked: {:?}",
                te.iter().map(|v| show(v)).collect::<Vec<_>>()
            ));
        }
        if !codings
            .last()
            .is_some_and(|c| c.eq_ignore_ascii_case(b"chunked"))
        {
            return Err("Transfer-Encoding whose last coding is not chunked".into());
        }
        match dechunk(&buf[body_at..])? {
            None => return Ok(None),
            Some((body, used)) => (Framing::Chunked, body, body_at + used),
        }
    } else if let Some(v) = cl.first() {
        if v.is_empty() || v.len() > 18 || !v.iter().all(u8::is_ascii_digit) {
            return Err(format!("invalid Content-Length {:?}", show(v)));
        }
        let n: usize = std::str::from_utf8(v).unwrap().parse().unwrap();
        if buf.len() < body_at + n {
            return Ok(None);
        }
        (
            Framing::Length(n as u64),
            buf[body_at..body_at + n].to_vec(),
            body_at + n,
        )
    } else {
        (Framing::None, Vec::new(), body_at)
    };
    let req = Request {
        route: String::new(),
        conn: 0,
        raw: buf[..used].to_vec(),
        line,
        headers,
        framing,
        body,
        problems,
    };
    Ok(Some((req, used)))
}

/// A strict chunked decoder: `Ok(None)` until the last chunk and the trailer section's
/// end have arrived; returns the body and how many bytes the chunked body took.
pub fn dechunk(buf: &[u8]) -> Result<Option<(Vec<u8>, usize)>, String> {
    let mut at = 0;
    let mut body = Vec::new();
    loop {
        let Some(eol) = find(&buf[at..], b"\r\n") else {
            if buf.len() - at > 64 * 1024 {
                return Err("chunk-size line longer than 64 KiB".into());
            }
            return Ok(None);
        };
        let line = &buf[at..at + eol];
        let size_part = line.split(|&b| b == b';').next().unwrap_or_default();
        if size_part.is_empty()
            || size_part.len() > 15
            || !size_part.iter().all(u8::is_ascii_hexdigit)
        {
            return Err(format!("invalid chunk-size line {:?}", show(line)));
        }
        if line.iter().any(|&b| b == b'\n' || b == b'\r' || b == 0) {
            return Err("control byte in a chunk-size line".into());
        }
        let size = usize::from_str_radix(std::str::from_utf8(size_part).unwrap(), 16).unwrap();
        at += eol + 2;
        if size == 0 {
            // Trailer lines, up to an empty one.
            loop {
                let Some(eol) = find(&buf[at..], b"\r\n") else {
                    return Ok(None);
                };
                at += eol + 2;
                if eol == 0 {
                    return Ok(Some((body, at)));
                }
            }
        }
        if buf.len() < at + size + 2 {
            return Ok(None);
        }
        body.extend_from_slice(&buf[at..at + size]);
        if &buf[at + size..at + size + 2] != b"\r\n" {
            return Err("chunk data not followed by CRLF".into());
        }
        at += size + 2;
    }
}

pub fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn split<'a>(hay: &'a [u8], sep: &[u8]) -> Vec<&'a [u8]> {
    let mut out = Vec::new();
    let mut rest = hay;
    while let Some(i) = find(rest, sep) {
        out.push(&rest[..i]);
        rest = &rest[i + sep.len()..];
    }
    out.push(rest);
    out
}

pub fn trim_ows(v: &[u8]) -> &[u8] {
    let start = v
        .iter()
        .position(|&b| b != b' ' && b != b'\t')
        .unwrap_or(v.len());
    let end = v
        .iter()
        .rposition(|&b| b != b' ' && b != b'\t')
        .map_or(start, |e| e + 1);
    &v[start..end]
}

pub fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Bytes as readable text: printable ASCII as is, the rest escaped (`\r`, `\n`, `\xNN`).
pub fn show(bytes: &[u8]) -> String {
    let mut s = String::new();
    for &b in bytes {
        match b {
            b'\r' => s.push_str("\\r"),
            b'\n' => s.push_str("\\n"),
            b'\t' => s.push_str("\\t"),
            b'\\' => s.push_str("\\\\"),
            0x20..=0x7e => s.push(b as char),
            _ => s.push_str(&format!("\\x{b:02x}")),
        }
    }
    s
}
