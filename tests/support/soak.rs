//! Pieces for long-running tests (`tests/soak.rs`): a raw HTTP/1.1 client whose every
//! request ends in an answer or in a named failure (refused, reset, closed before or in
//! the middle of the answer, timeout), a backend that streams a large body slowly enough
//! for a client to leave in the middle of it, a free port to restart a process on, and a
//! process's resident memory and open descriptors read from `/proc`.

use std::collections::{BTreeMap, HashMap};
use std::io::ErrorKind;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A port on loopback that was free a moment ago, for a process that must come back on
/// the same address after a restart.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Resident memory and open descriptors of a process.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ProcStats {
    /// `VmRSS` from `/proc/<pid>/status`, in KiB.
    pub rss_kib: u64,
    /// Entries of `/proc/<pid>/fd`.
    pub fds: u64,
}

/// [`ProcStats`] of `pid`, or `None` when it is gone.
pub fn proc_stats(pid: u32) -> Option<ProcStats> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let rss_kib = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?.count() as u64;
    Some(ProcStats { rss_kib, fds })
}

/// An answer read off the wire.
#[derive(Clone, Debug)]
pub struct Answer {
    pub status: u16,
    /// Header names lowercased, in the order received.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// The server said it closes the connection (or the body ended at close).
    pub close: bool,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Why a request got no answer.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Failure {
    /// The connection was refused (nothing listening).
    Refused,
    /// Connecting failed otherwise.
    Connect(String),
    /// Reset (or a broken pipe) while sending or reading.
    Reset,
    /// Closed before a single byte of the answer.
    ClosedBeforeAnswer,
    /// Closed inside the answer's head or body.
    ClosedMidAnswer,
    /// Bytes that are not an HTTP/1.1 answer, or more than one answer.
    Malformed(String),
    /// Another I/O error.
    Io(String),
    /// No complete answer within the request's deadline.
    Timeout,
}

impl Failure {
    pub fn label(&self) -> String {
        match self {
            Failure::Refused => "refused".into(),
            Failure::Connect(e) => format!("connect: {e}"),
            Failure::Reset => "reset".into(),
            Failure::ClosedBeforeAnswer => "closed before answer".into(),
            Failure::ClosedMidAnswer => "closed mid-answer".into(),
            Failure::Malformed(e) => format!("malformed: {e}"),
            Failure::Io(e) => format!("io: {e}"),
            Failure::Timeout => "timeout".into(),
        }
    }

    fn from_io(e: std::io::Error, got_bytes: bool) -> Failure {
        match e.kind() {
            ErrorKind::ConnectionReset | ErrorKind::BrokenPipe | ErrorKind::ConnectionAborted => {
                Failure::Reset
            }
            ErrorKind::UnexpectedEof if got_bytes => Failure::ClosedMidAnswer,
            ErrorKind::UnexpectedEof => Failure::ClosedBeforeAnswer,
            _ => Failure::Io(format!("{:?}", e.kind())),
        }
    }
}

/// Connects to `addr`, refusals and other errors told apart.
pub async fn connect(addr: SocketAddr) -> Result<TcpStream, Failure> {
    match TcpStream::connect(addr).await {
        Ok(s) => {
            let _ = s.set_nodelay(true);
            Ok(s)
        }
        Err(e) if e.kind() == ErrorKind::ConnectionRefused => Err(Failure::Refused),
        Err(e) => Err(Failure::Connect(format!("{:?}", e.kind()))),
    }
}

/// A GET request head for `path` on `host` (with `connection: close` if asked).
pub fn get(host: &str, path: &str, close: bool) -> Vec<u8> {
    let close = if close { "connection: close\r\n" } else { "" };
    format!("GET {path} HTTP/1.1\r\nhost: {host}\r\nuser-agent: weir-soak\r\n{close}\r\n")
        .into_bytes()
}

/// A request with a body.
pub fn with_body(method: &str, host: &str, path: &str, body: &str) -> Vec<u8> {
    format!(
        "{method} {path} HTTP/1.1\r\nhost: {host}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// Reads more into `buf`; `Ok(false)` at the end of the stream.
async fn fill<S: AsyncRead + Unpin>(s: &mut S, buf: &mut Vec<u8>) -> std::io::Result<bool> {
    let mut chunk = [0u8; 16 * 1024];
    let n = s.read(&mut chunk).await?;
    buf.extend_from_slice(&chunk[..n]);
    Ok(n > 0)
}

/// Reads one answer off `s` (`buf` holds what was read before and keeps what follows).
pub async fn read_answer<S: AsyncRead + Unpin>(
    s: &mut S,
    buf: &mut Vec<u8>,
    head_only: bool,
) -> Result<Answer, Failure> {
    // The head.
    let (status, headers, head_len) = loop {
        let mut h = [httparse::EMPTY_HEADER; 64];
        let mut resp = httparse::Response::new(&mut h);
        match resp.parse(buf) {
            Ok(httparse::Status::Complete(n)) => {
                let headers: Vec<(String, String)> = resp
                    .headers
                    .iter()
                    .map(|h| {
                        (
                            h.name.to_ascii_lowercase(),
                            String::from_utf8_lossy(h.value).into_owned(),
                        )
                    })
                    .collect();
                break (resp.code.unwrap_or(0), headers, n);
            }
            Ok(httparse::Status::Partial) => {}
            Err(e) => return Err(Failure::Malformed(format!("head: {e}"))),
        }
        let got = !buf.is_empty();
        match fill(s, buf).await {
            Ok(true) => {}
            Ok(false) if got => return Err(Failure::ClosedMidAnswer),
            Ok(false) => return Err(Failure::ClosedBeforeAnswer),
            Err(e) => return Err(Failure::from_io(e, got)),
        }
    };
    buf.drain(..head_len);
    let find = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    let mut close = find("connection").is_some_and(|v| v.eq_ignore_ascii_case("close"));
    let chunked =
        find("transfer-encoding").is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    let length = find("content-length").map(|v| v.trim().parse::<usize>());
    let no_body = head_only || (100..200).contains(&status) || status == 204 || status == 304;
    let body = if no_body {
        Vec::new()
    } else if chunked {
        read_chunked(s, buf).await?
    } else if let Some(length) = length {
        let length = length.map_err(|_| Failure::Malformed("content-length".into()))?;
        while buf.len() < length {
            match fill(s, buf).await {
                Ok(true) => {}
                Ok(false) => return Err(Failure::ClosedMidAnswer),
                Err(e) => return Err(Failure::from_io(e, true)),
            }
        }
        buf.drain(..length).collect()
    } else {
        // Delimited by the end of the connection.
        loop {
            match fill(s, buf).await {
                Ok(true) => {}
                Ok(false) => break,
                Err(e) => return Err(Failure::from_io(e, true)),
            }
        }
        close = true;
        std::mem::take(buf)
    };
    Ok(Answer {
        status,
        headers,
        body,
        close,
    })
}

async fn read_chunked<S: AsyncRead + Unpin>(
    s: &mut S,
    buf: &mut Vec<u8>,
) -> Result<Vec<u8>, Failure> {
    let mut body = Vec::new();
    loop {
        // The size line.
        let line_end = loop {
            if let Some(i) = buf.windows(2).position(|w| w == b"\r\n") {
                break i;
            }
            match fill(s, buf).await {
                Ok(true) => {}
                Ok(false) => return Err(Failure::ClosedMidAnswer),
                Err(e) => return Err(Failure::from_io(e, true)),
            }
        };
        let line = String::from_utf8_lossy(&buf[..line_end]).into_owned();
        let size = usize::from_str_radix(line.split(';').next().unwrap_or("").trim(), 16)
            .map_err(|_| Failure::Malformed(format!("chunk size {line:?}")))?;
        buf.drain(..line_end + 2);
        if size == 0 {
            // Trailers, up to the empty line.
            loop {
                if let Some(i) = buf.windows(2).position(|w| w == b"\r\n") {
                    let empty = i == 0;
                    buf.drain(..i + 2);
                    if empty {
                        return Ok(body);
                    }
                    continue;
                }
                match fill(s, buf).await {
                    Ok(true) => {}
                    Ok(false) => return Err(Failure::ClosedMidAnswer),
                    Err(e) => return Err(Failure::from_io(e, true)),
                }
            }
        }
        while buf.len() < size + 2 {
            match fill(s, buf).await {
                Ok(true) => {}
                Ok(false) => return Err(Failure::ClosedMidAnswer),
                Err(e) => return Err(Failure::from_io(e, true)),
            }
        }
        body.extend_from_slice(&buf[..size]);
        buf.drain(..size + 2);
    }
}

/// One request on a connection of its own, within `deadline`.
pub async fn one_shot(
    addr: SocketAddr,
    request: &[u8],
    deadline: Duration,
) -> Result<Answer, Failure> {
    let exchange = async {
        let mut s = connect(addr).await?;
        s.write_all(request)
            .await
            .map_err(|e| Failure::from_io(e, false))?;
        let mut buf = Vec::new();
        let a = read_answer(&mut s, &mut buf, false).await?;
        if !buf.is_empty() {
            return Err(Failure::Malformed(format!(
                "{} bytes after the answer",
                buf.len()
            )));
        }
        Ok(a)
    };
    tokio::time::timeout(deadline, exchange)
        .await
        .unwrap_or(Err(Failure::Timeout))
}

/// A client that keeps one connection open from request to request, opening a new one
/// when the last one failed or was closed.
pub struct KeepAlive {
    addr: SocketAddr,
    conn: Option<TcpStream>,
    buf: Vec<u8>,
}

impl KeepAlive {
    pub fn new(addr: SocketAddr) -> KeepAlive {
        KeepAlive {
            addr,
            conn: None,
            buf: Vec::new(),
        }
    }

    /// Sends `request` and reads its answer within `deadline`; the `bool` says whether the
    /// request went on a connection that had carried an earlier one.
    pub async fn send(
        &mut self,
        request: &[u8],
        deadline: Duration,
    ) -> (Result<Answer, Failure>, bool) {
        let reused = self.conn.is_some();
        let addr = self.addr;
        let conn = &mut self.conn;
        let buf = &mut self.buf;
        let exchange = async {
            if conn.is_none() {
                *conn = Some(connect(addr).await?);
                buf.clear();
            }
            let s = conn.as_mut().unwrap();
            s.write_all(request)
                .await
                .map_err(|e| Failure::from_io(e, false))?;
            let a = read_answer(s, buf, false).await?;
            if !buf.is_empty() {
                return Err(Failure::Malformed(format!(
                    "{} bytes after the answer",
                    buf.len()
                )));
            }
            Ok(a)
        };
        let result = tokio::time::timeout(deadline, exchange)
            .await
            .unwrap_or(Err(Failure::Timeout));
        match &result {
            Ok(a) if !a.close => {}
            _ => {
                self.conn = None;
                self.buf.clear();
            }
        }
        (result, reused)
    }
}

/// A backend that answers every request with a `size`-byte body streamed in 16 KiB pieces
/// a couple of milliseconds apart (a client can leave in the middle of it), `x-backend:
/// big`, keep-alive. Returns its address and the task to abort it.
pub async fn big_backend(size: usize) -> (SocketAddr, tokio::task::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = listener.accept().await else {
                continue;
            };
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let piece = vec![b'x'; 16 * 1024];
                loop {
                    while let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        buf.drain(..i + 4);
                        let head = format!(
                            "HTTP/1.1 200 OK\r\ncontent-length: {size}\r\nx-backend: big\r\n\r\n"
                        );
                        if s.write_all(head.as_bytes()).await.is_err() {
                            return;
                        }
                        let mut left = size;
                        while left > 0 {
                            let n = left.min(piece.len());
                            if s.write_all(&piece[..n]).await.is_err() {
                                return;
                            }
                            left -= n;
                            tokio::time::sleep(Duration::from_millis(2)).await;
                        }
                    }
                    match fill(&mut s, &mut buf).await {
                        Ok(true) => {}
                        _ => return,
                    }
                }
            });
        }
    });
    (addr, task)
}

/// What the open descriptors of `pid` are, counted by kind: TCP sockets by state and by
/// the port at either end that `name_port` names (e.g. "listener", "backend v3"), other
/// sockets, pipes, files. For a report that says what grew.
pub fn fd_breakdown(pid: u32, name_port: impl Fn(u16, u16) -> String) -> BTreeMap<String, u64> {
    let mut tcp: HashMap<u64, (u16, u16, &'static str)> = HashMap::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(table) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() < 10 {
                continue;
            }
            let port = |a: &str| {
                a.rsplit(':')
                    .next()
                    .and_then(|p| u16::from_str_radix(p, 16).ok())
                    .unwrap_or(0)
            };
            let state = match f[3] {
                "01" => "ESTABLISHED",
                "06" => "TIME_WAIT",
                "07" => "CLOSE",
                "08" => "CLOSE_WAIT",
                "0A" => "LISTEN",
                "04" => "FIN_WAIT1",
                "05" => "FIN_WAIT2",
                "09" => "LAST_ACK",
                _ => "other",
            };
            if let Ok(inode) = f[9].parse() {
                tcp.insert(inode, (port(f[1]), port(f[2]), state));
            }
        }
    }
    let mut out = BTreeMap::new();
    let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return out;
    };
    for entry in dir.flatten() {
        let target = std::fs::read_link(entry.path())
            .map(|t| t.to_string_lossy().into_owned())
            .unwrap_or_default();
        let kind = if let Some(inode) = target
            .strip_prefix("socket:[")
            .and_then(|s| s.strip_suffix(']'))
            .and_then(|s| s.parse::<u64>().ok())
        {
            match tcp.get(&inode) {
                Some(&(local, remote, state)) => {
                    format!("tcp {state} {}", name_port(local, remote))
                }
                None => "socket (not TCP)".to_string(),
            }
        } else if target.starts_with("pipe:") {
            "pipe".to_string()
        } else if target.starts_with("anon_inode:") {
            target.clone()
        } else {
            "file".to_string()
        };
        *out.entry(kind).or_default() += 1;
    }
    out
}
