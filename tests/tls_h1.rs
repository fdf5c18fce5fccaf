//! HTTP/1.1 over TLS (ALPN `http/1.1`, or no ALPN) is served by weir's own HTTP/1.1
//! server, as plain connections are: pipelined requests, the upstream's header lines
//! passed on as they came, `x-forwarded-proto: https`, answers larger than the socket
//! buffers and answers streamed piece by piece reaching the client, the idle timeout,
//! `connection: close`, and the requests it does not serve handed to hyper's server on
//! the same connection. (h2 over TLS goes to hyper's server: `tests/split.rs`.)

mod support;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use support::raw::{
    assert_closed_once_idle_for_300ms, assert_upload_handed_to_hyper,
    connect_with_small_receive_buffer, raw_upstream, read_answers, tls_connect, tls_files,
};
use support::weir::config;
use support::{closed_within, Backend, Weir};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::client::TlsStream;

/// weir with one TLS listener in front of `upstream`.
async fn weir_tls(upstream: SocketAddr, extra_top: &str) -> Weir {
    let (cert, key, _) = tls_files();
    let yaml = config(&[("up", upstream, 1)], "", extra_top).replace(
        "  - address: 127.0.0.1:0\nadmin",
        "  - address: 127.0.0.1:0\n    tls:\n      certificates:\n        - {cert: cert.pem, key: key.pem}\nadmin",
    );
    Weir::start_with_files(
        &yaml,
        &[("cert.pem", cert.as_bytes()), ("key.pem", key.as_bytes())],
    )
    .await
}

const H11: &[u8] = b"http/1.1";

/// A TLS connection to weir's listener that chose HTTP/1.1 by ALPN.
async fn h11(weir: &Weir) -> TlsStream<TcpStream> {
    let tcp = TcpStream::connect(weir.listeners[0]).await.unwrap();
    tls_connect(tcp, "localhost", &tls_files().2, &[H11], Some(H11)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http1_over_tls_is_served_by_weirs_own_server_with_or_without_alpn() {
    let up = raw_upstream(
        b"HTTP/1.1 200 OK\r\nServer: up\r\nX-Case-Kept: yes\r\nContent-Length: 2\r\n\r\nok",
    )
    .await;
    let weir = weir_tls(up, "").await;
    let der = tls_files().2;
    for (offered, chosen) in [(&[H11][..], Some(H11)), (&[][..], None)] {
        let tcp = TcpStream::connect(weir.listeners[0]).await.unwrap();
        let mut s = tls_connect(tcp, "localhost", &der, offered, chosen).await;
        s.write_all(b"GET /a HTTP/1.1\r\nhost: a\r\n\r\nGET /b HTTP/1.1\r\nhost: a\r\n\r\n")
            .await
            .unwrap();
        for a in read_answers(&mut s, 2, false).await {
            assert!(a.starts_with("HTTP/1.1 200 OK\r\n"), "{a}");
            // Passed on as the upstream wrote it: hyper's server would have written the
            // name in lower case, from a `HeaderMap`.
            assert!(a.contains("\r\nServer: up\r\nX-Case-Kept: yes\r\n"), "{a}");
            assert!(a.ends_with("\r\n\r\nok"), "{a}");
        }
        // `connection: close`: answered, then the TLS session and the socket are closed.
        s.write_all(b"GET / HTTP/1.1\r\nhost: a\r\nconnection: close\r\n\r\n")
            .await
            .unwrap();
        let a = read_answers(&mut s, 1, false).await.remove(0);
        assert!(a.contains("\r\nconnection: close\r\n"), "{a}");
        assert!(closed_within(&mut s, Duration::from_secs(3)).await);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_upstream_is_told_the_client_came_over_https() {
    let b = Backend::start("b").await;
    let weir = weir_tls(b.addr, "").await;
    let mut s = h11(&weir).await;
    s.write_all(b"GET / HTTP/1.1\r\nhost: a\r\nx-forwarded-proto: http\r\n\r\n")
        .await
        .unwrap();
    assert!(read_answers(&mut s, 1, false).await[0].ends_with("\r\n\r\nb"));
    let h = b.last_headers.lock().clone();
    assert_eq!(h["x-forwarded-proto"], "https");
    assert_eq!(h["x-forwarded-for"], "127.0.0.1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_larger_than_the_socket_buffers_reaches_a_slow_tls_client_whole() {
    const LEN: usize = 8 << 20;
    let mut answer = format!("HTTP/1.1 200 OK\r\ncontent-length: {LEN}\r\n\r\n").into_bytes();
    answer.extend((0..LEN).map(|i| b'a' + (i % 26) as u8));
    let up = raw_upstream(Box::leak(answer.into_boxed_slice())).await;
    let weir = weir_tls(up, "").await;
    let mut s = h11(&weir).await;
    for _ in 0..2 {
        s.write_all(b"GET / HTTP/1.1\r\nhost: a\r\n\r\n")
            .await
            .unwrap();
        // Not reading for a while: weir's writes fill the socket and wait.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let mut got = Vec::new();
        read_until(&mut s, &mut got, b"\r\n\r\n").await;
        let head_len = got.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
        let head = String::from_utf8_lossy(&got[..head_len]).to_string();
        assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
        assert!(
            head.contains(&format!("\r\ncontent-length: {LEN}\r\n")),
            "{head}"
        );
        let mut body = got.split_off(head_len);
        let already = body.len();
        body.resize(LEN, 0);
        tokio::time::timeout(Duration::from_secs(20), s.read_exact(&mut body[already..]))
            .await
            .expect("the whole body within 20 s")
            .unwrap();
        assert!(body
            .iter()
            .enumerate()
            .all(|(i, &c)| c == b'a' + (i % 26) as u8));
    }
}

/// Reads off `s` into `got` until `got` holds `end`; fails after 5 s without it.
async fn read_until<S: tokio::io::AsyncRead + Unpin>(s: &mut S, got: &mut Vec<u8>, end: &[u8]) {
    let mut chunk = [0u8; 4096];
    let mut from = 0;
    while !got[from..].windows(end.len()).any(|w| w == end) {
        from = got.len().saturating_sub(end.len());
        let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut chunk))
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "no {:?} within 5 s: {:?}",
                    String::from_utf8_lossy(end),
                    String::from_utf8_lossy(got)
                )
            })
            .unwrap();
        assert!(n > 0, "closed: {:?}", String::from_utf8_lossy(got));
        got.extend_from_slice(&chunk[..n]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_streamed_answer_reaches_a_slow_tls_client_piece_by_piece() {
    // The upstream sends a first chunk much larger than the socket buffers, then waits
    // until the client has all of it: weir must push out the end of that chunk (rustls
    // keeps what the socket did not take until told to flush) before the rest comes.
    const FIRST: usize = 4 << 20;
    let seen = Arc::new(tokio::sync::Notify::new());
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let up = listener.local_addr().unwrap();
    let upstream_seen = seen.clone();
    tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.unwrap();
        let mut buf = [0u8; 4096];
        let _ = s.read(&mut buf).await.unwrap();
        let mut first = format!(
            "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n{:x}\r\n",
            FIRST + 4
        )
        .into_bytes();
        first.resize(first.len() + FIRST, b'x');
        first.extend_from_slice(b"END1\r\n");
        s.write_all(&first).await.unwrap();
        upstream_seen.notified().await;
        s.write_all(b"6\r\nsecond\r\n0\r\n\r\n").await.unwrap();
    });
    let weir = weir_tls(up, "").await;
    let tcp = connect_with_small_receive_buffer(weir.listeners[0]).await;
    let mut s = tls_connect(tcp, "localhost", &tls_files().2, &[H11], Some(H11)).await;
    s.write_all(b"GET / HTTP/1.1\r\nhost: a\r\n\r\n")
        .await
        .unwrap();
    // A slow reader, so weir's writes keep finding the socket full.
    let mut got = Vec::new();
    let mut body = Dechunk::default();
    let mut chunk = [0u8; 4096];
    while !body.data.ends_with(b"END1") {
        let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut chunk))
            .await
            .unwrap_or_else(|_| panic!("stuck after {} bytes of the first chunk", body.data.len()))
            .unwrap();
        assert!(n > 0, "closed after {} bytes", got.len());
        got.extend_from_slice(&chunk[..n]);
        body.feed(&got);
        if got.len() % (64 << 10) < n {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
    assert_eq!(body.data.len(), FIRST + 4);
    let head = String::from_utf8_lossy(&got[..body.head_len]);
    assert!(
        head.contains("\r\ntransfer-encoding: chunked\r\n"),
        "{head}"
    );
    seen.notify_one();
    read_until(&mut s, &mut got, b"\r\n0\r\n\r\n").await;
    body.feed(&got);
    assert!(body.done);
    assert!(body.data.ends_with(b"xEND1second"));
}

/// The body of a chunked answer, decoded as far as it has arrived.
#[derive(Default)]
struct Dechunk {
    head_len: usize,
    /// Where the next chunk's size line starts.
    at: usize,
    data: Vec<u8>,
    done: bool,
}

impl Dechunk {
    fn feed(&mut self, got: &[u8]) {
        if self.head_len == 0 {
            let Some(end) = got.windows(4).position(|w| w == b"\r\n\r\n") else {
                return;
            };
            self.head_len = end + 4;
            self.at = self.head_len;
        }
        while !self.done {
            let rest = &got[self.at..];
            let Some(line) = rest.windows(2).position(|w| w == b"\r\n") else {
                return;
            };
            let size = usize::from_str_radix(std::str::from_utf8(&rest[..line]).unwrap(), 16)
                .expect("a chunk size");
            if rest.len() < line + 2 + size + 2 {
                return;
            }
            self.data
                .extend_from_slice(&rest[line + 2..line + 2 + size]);
            assert_eq!(&rest[line + 2 + size..line + 4 + size], b"\r\n");
            self.at += line + 4 + size;
            self.done = size == 0;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_it_does_not_serve_go_to_hyper_on_the_same_tls_connection() {
    let b = Backend::start("handed").await;
    let weir = weir_tls(b.addr, "").await;
    let mut s = h11(&weir).await;
    s.write_all(b"GET / HTTP/1.1\r\nhost: a\r\n\r\n")
        .await
        .unwrap();
    read_answers(&mut s, 1, false).await;
    assert_upload_handed_to_hyper(&mut s, &b, || {
        assert_eq!(b.last_headers.lock()["x-forwarded-proto"], "https");
    })
    .await;
    assert_eq!(b.hits(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_tls_connection_is_closed_after_the_header_timeout() {
    let b = Backend::start("idle").await;
    let weir = weir_tls(b.addr, "limits:\n  headerReadTimeout: 300ms\n").await;
    let mut s = h11(&weir).await;
    // Closed with a `close_notify`: without one the client's read fails instead.
    assert_closed_once_idle_for_300ms(&mut s).await;
}
