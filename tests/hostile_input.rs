//! Issue 20's findings that need more than raw HTTP/1.1 bytes (those are in
//! tests/http_conformance.rs, run plain and over TLS): HTTP/2's `:authority` against a
//! `host` header (finding 6), and the counting of what weir refuses.

mod support;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::{TokioExecutor, TokioIo};
use support::{Backend, Weir};
use tokio::io::AsyncWriteExt;

fn two_hosts(a: &Backend, b: &Backend) -> String {
    format!(
        "listeners:\n  - address: 127.0.0.1:0\nadmin:\n  address: 127.0.0.1:0\nservices:\n  a: {{endpoints: [\"{}\"]}}\n  b: {{endpoints: [\"{}\"]}}\nroutes:\n  - name: a\n    hosts: [\"a.test\"]\n    backends: [{{service: a, weight: 1}}]\n  - name: b\n    hosts: [\"b.test\"]\n    backends: [{{service: b, weight: 1}}]\n",
        a.addr, b.addr
    )
}

/// Finding 6: an HTTP/2 request with `:authority: a.test` and `host: b.test` is routed and
/// forwarded by `:authority` (RFC 9113 8.3.1), over h2c to an HTTP/1.1 upstream.
#[tokio::test]
async fn http2_authority_wins_over_a_host_header() {
    let a = Backend::start("a").await;
    let b = Backend::start("b").await;
    let weir = Weir::start(&two_hosts(&a, &b)).await;
    let tcp = tokio::net::TcpStream::connect(weir.listeners[0])
        .await
        .unwrap();
    let (mut send, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tcp))
            .await
            .unwrap();
    tokio::spawn(conn);
    for (uri, host, want) in [
        ("http://a.test/x", Some("b.test"), "a"),
        ("http://b.test/x", Some("a.test"), "b"),
        ("http://a.test/x", None, "a"),
    ] {
        let mut req = hyper::Request::get(uri);
        if let Some(h) = host {
            req = req.header("host", h);
        }
        let resp = send
            .send_request(req.body(Full::new(Bytes::new())).unwrap())
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "{uri} host {host:?}");
        let header = |n: &str| resp.headers().get(n).unwrap().to_str().unwrap().to_string();
        assert_eq!(header("x-backend"), want, "{uri} host {host:?}");
        assert_eq!(header("x-seen-host"), &uri[7..13], "{uri} host {host:?}");
        resp.into_body().collect().await.unwrap();
    }
    let hosts = a.last_headers.lock().get_all("host").iter().count();
    assert_eq!(hosts, 1, "one Host upstream");
}

/// What weir refuses before routing is counted apart, by reason, in /metrics.
#[tokio::test]
async fn refused_requests_are_counted() {
    let a = Backend::start("a").await;
    let b = Backend::start("b").await;
    let weir = Weir::start(&two_hosts(&a, &b)).await;
    for raw in [
        &b"GET / HTTP/1.1\r\nHost: a.test\r\nHost: b.test\r\n\r\n"[..],
        b"GET / HTTP/1.1\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
    ] {
        let mut s = tokio::net::TcpStream::connect(weir.listeners[0])
            .await
            .unwrap();
        s.write_all(raw).await.unwrap();
        let answer = support::raw::read_answers(&mut s, 1, false).await.remove(0);
        assert!(
            answer.starts_with("HTTP/1.1 400") || answer.starts_with("HTTP/1.1 501"),
            "{answer}"
        );
    }
    assert_eq!(a.hits() + b.hits(), 0);
    let n = weir
        .metric("weir_upstream_errors_total{route=\"\",backend=\"\",reason=\"bad_request\"}")
        .await;
    assert_eq!(n, 3.0);
}
