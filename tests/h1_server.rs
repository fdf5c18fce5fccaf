//! weir's own HTTP/1.1 server on plain listeners, seen from a raw TCP client: pipelined
//! requests answered in order, HEAD, `connection: close`, the `date` header, chunked
//! answers re-framed for the client, idle keep-alive connections closed after the
//! header-read timeout, and every request it does not serve itself (chunked uploads,
//! `expect: 100-continue`, HTTP/1.0, h2c prior knowledge, malformed requests) handed to
//! hyper's server on the same connection.

mod support;

use std::time::Duration;
use support::raw::{
    assert_closed_once_idle_for_300ms, assert_upload_handed_to_hyper, raw_upstream, read_answers,
};
use support::weir::config;
use support::{closed_within, Backend, Client, Weir};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn weir_with(backend: &Backend, extra_top: &str) -> Weir {
    Weir::start(&config(&[("b", backend.addr, 1)], "", extra_top)).await
}

/// A new connection to weir's listener, with `request` written on it.
async fn open_with(weir: &Weir, request: &[u8]) -> TcpStream {
    let mut s = TcpStream::connect(weir.listeners[0]).await.unwrap();
    s.write_all(request).await.unwrap();
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelined_requests_are_answered_in_order_with_a_date() {
    let b = Backend::start("pipelined").await;
    let weir = weir_with(&b, "").await;
    // Three requests in one write, the last one a POST with a body.
    let mut s = open_with(
        &weir,
        b"GET /1 HTTP/1.1\r\nhost: a\r\n\r\nGET /2 HTTP/1.1\r\nhost: a\r\n\r\nPOST /3 HTTP/1.1\r\nhost: a\r\ncontent-length: 5\r\n\r\nhello",
    )
    .await;
    let answers = read_answers(&mut s, 3, false).await;
    for a in &answers {
        assert!(a.starts_with("HTTP/1.1 200 OK\r\n"), "{a}");
        assert!(a.contains("x-backend: pipelined\r\n"), "{a}");
        assert!(a.to_ascii_lowercase().contains("\r\ndate: "), "{a}");
        assert!(a.ends_with("\r\n\r\npipelined"), "{a}");
    }
    assert_eq!(b.hits(), 3);
    assert_eq!(&b.last_body.lock()[..], b"hello");
    // Still open for more.
    s.write_all(b"GET /4 HTTP/1.1\r\nhost: a\r\n\r\n")
        .await
        .unwrap();
    assert_eq!(read_answers(&mut s, 1, false).await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn head_and_connection_close_are_honoured() {
    let b = Backend::start("hb").await;
    let weir = weir_with(&b, "").await;
    let mut s = open_with(&weir, b"HEAD / HTTP/1.1\r\nhost: a\r\n\r\n").await;
    let head = read_answers(&mut s, 1, true).await.remove(0);
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    assert!(
        head.contains("content-length: 2\r\n"),
        "the length a GET would have: {head}"
    );
    // Nothing follows the head: the next answer starts right after it.
    s.write_all(b"GET / HTTP/1.1\r\nhost: a\r\nconnection: close\r\n\r\n")
        .await
        .unwrap();
    let last = read_answers(&mut s, 1, false).await.remove(0);
    assert!(last.starts_with("HTTP/1.1 200 OK\r\n"), "{last}");
    assert!(last.contains("connection: close\r\n"), "{last}");
    assert!(closed_within(&mut s, Duration::from_secs(2)).await);
}

/// An upstream that answers with a chunked body of two chunks.
async fn chunked_upstream() -> std::net::SocketAddr {
    raw_upstream(
        b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n4\r\nabcd\r\n3\r\nefg\r\n0\r\n\r\n",
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_of_unknown_length_reaches_the_client_chunked() {
    let addr = chunked_upstream().await;
    let weir = Weir::start(&config(&[("c", addr, 1)], "", "")).await;
    let mut s = open_with(&weir, b"GET / HTTP/1.1\r\nhost: a\r\n\r\n").await;
    let mut got = Vec::new();
    let mut chunk = [0u8; 4096];
    while !got.ends_with(b"0\r\n\r\n") {
        let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut chunk))
            .await
            .unwrap()
            .unwrap();
        assert!(n > 0);
        got.extend_from_slice(&chunk[..n]);
    }
    let text = String::from_utf8(got).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    assert!(head.contains("transfer-encoding: chunked"), "{head}");
    assert!(!head.contains("content-length"), "{head}");
    // Whatever the chunk sizes, the decoded body is the upstream's.
    let mut decoded = String::new();
    let mut rest = body;
    loop {
        let (size, after) = rest.split_once("\r\n").unwrap();
        let size = usize::from_str_radix(size, 16).unwrap();
        if size == 0 {
            break;
        }
        decoded.push_str(&after[..size]);
        rest = &after[size + 2..];
    }
    assert_eq!(decoded, "abcdefg");
    // And hyper's client agrees.
    let o = Client::http1()
        .get(&weir.authority(), "/", &[])
        .await
        .unwrap();
    assert_eq!(o.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_header_lines_reach_the_client_once_each_without_hop_by_hop_ones() {
    let addr = raw_upstream(b"HTTP/1.1 200 OK\r\nServer: up\r\nDate: Thu, 26 Nov 2026 10:00:00 GMT\r\nConnection: keep-alive, X-Hop\r\nX-Hop: secret\r\nKeep-Alive: timeout=5\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\nContent-Length: 2\r\n\r\nok").await;
    let weir = Weir::start(&config(&[("raw", addr, 1)], "", "")).await;
    let mut s = open_with(
        &weir,
        b"GET / HTTP/1.1\r\nhost: a\r\n\r\nGET / HTTP/1.1\r\nhost: a\r\n\r\n",
    )
    .await;
    for a in read_answers(&mut s, 2, false).await {
        let lower = a.to_ascii_lowercase();
        let count = |h: &str| lower.matches(&format!("\r\n{h}: ")).count();
        assert!(a.starts_with("HTTP/1.1 200 OK\r\n"), "{a}");
        // The upstream's date, not a second one of weir's.
        assert_eq!(count("date"), 1, "{a}");
        assert!(a.contains("Date: Thu, 26 Nov 2026 10:00:00 GMT\r\n"), "{a}");
        assert!(
            a.contains("Server: up\r\nDate: "),
            "order and case kept: {a}"
        );
        assert!(a.contains("Set-Cookie: a=1\r\nSet-Cookie: b=2\r\n"), "{a}");
        // One length, weir's; no hop-by-hop header of the upstream's connection.
        assert_eq!(count("content-length"), 1, "{a}");
        assert_eq!(
            count("x-hop") + count("keep-alive") + count("connection"),
            0,
            "{a}"
        );
        assert!(a.ends_with("\r\n\r\nok"), "{a}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_keep_alive_connection_is_closed_after_the_header_timeout() {
    let b = Backend::start("idle").await;
    let weir = weir_with(&b, "limits:\n  headerReadTimeout: 300ms\n").await;
    let mut s = TcpStream::connect(weir.listeners[0]).await.unwrap();
    assert_closed_once_idle_for_300ms(&mut s).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_it_does_not_serve_go_to_hyper_on_the_same_connection() {
    let b = Backend::start("handed").await;
    let weir = weir_with(&b, "").await;

    // A plain request first, then a chunked upload on the same connection.
    let mut s = open_with(&weir, b"GET / HTTP/1.1\r\nhost: a\r\n\r\n").await;
    read_answers(&mut s, 1, false).await;
    assert_upload_handed_to_hyper(&mut s, &b, || {}).await;

    // expect: 100-continue gets its interim answer.
    let mut s = open_with(
        &weir,
        b"POST / HTTP/1.1\r\nhost: a\r\ncontent-length: 2\r\nexpect: 100-continue\r\n\r\n",
    )
    .await;
    let mut first = [0u8; 25];
    s.read_exact(&mut first).await.unwrap();
    assert_eq!(&first, b"HTTP/1.1 100 Continue\r\n\r\n");
    s.write_all(b"ok").await.unwrap();
    assert!(read_answers(&mut s, 1, false).await[0].starts_with("HTTP/1.1 200"));
    assert_eq!(&b.last_body.lock()[..], b"ok");

    // HTTP/1.0.
    let mut s = open_with(&weir, b"GET / HTTP/1.0\r\nhost: a\r\n\r\n").await;
    let mut all = Vec::new();
    s.read_to_end(&mut all).await.unwrap();
    let text = String::from_utf8_lossy(&all);
    assert!(
        text.starts_with("HTTP/1.0 200") || text.starts_with("HTTP/1.1 200"),
        "{text}"
    );
    assert!(text.ends_with("handed"), "{text}");

    // A malformed request gets hyper's 400.
    let mut s = open_with(&weir, b"GET / HTTP/1.1\r\nbad header\r\n\r\n").await;
    let mut all = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(3), s.read_to_end(&mut all)).await;
    let text = String::from_utf8_lossy(&all);
    assert!(text.starts_with("HTTP/1.1 400"), "{text}");

    // h2c with prior knowledge on the same port.
    let o = Client::h2c()
        .get(&weir.authority(), "/", &[])
        .await
        .unwrap();
    assert_eq!(o.status, 200);
    assert_eq!(o.backend.as_deref(), Some("handed"));
}
