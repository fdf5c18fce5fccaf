//! The upstream connection pool, seen from a raw TCP backend that counts its connections:
//! keep-alive connections are reused (after plain, chunked, empty and HEAD answers), a
//! connection the server closed while idle never fails a request, and `Connection: close`
//! answers get a fresh connection each time.

mod support;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use support::weir::config;
use support::{Client, Weir};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

#[derive(Clone, Copy)]
enum Answer {
    /// `content-length` body, keep-alive.
    Plain,
    /// Chunked body, keep-alive.
    Chunked,
    /// 204, no body, keep-alive.
    NoContent,
    /// `connection: close`, then the server closes.
    Close,
    /// Keep-alive answer, then the server closes the idle connection after 30 ms (as a
    /// server's keep-alive timeout does).
    CloseWhenIdle,
}

/// A backend on a raw socket: answers every request on a connection in the way `answer`
/// says, and counts the connections it accepted.
async fn raw_backend(answer: Answer) -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = listener.accept().await else {
                return;
            };
            count.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                loop {
                    // One request head (the tests send no bodies).
                    let head_end = loop {
                        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                            break i + 4;
                        }
                        let read = if matches!(answer, Answer::CloseWhenIdle) && buf.is_empty() {
                            match tokio::time::timeout(
                                Duration::from_millis(30),
                                s.read(&mut chunk),
                            )
                            .await
                            {
                                Ok(r) => r,
                                Err(_) => return, // idle too long: close
                            }
                        } else {
                            s.read(&mut chunk).await
                        };
                        match read {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    };
                    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
                    buf.drain(..head_end);
                    let is_head = head.starts_with("HEAD ");
                    let out: &[u8] = match answer {
                        Answer::Plain | Answer::CloseWhenIdle if is_head => {
                            b"HTTP/1.1 200 OK\r\ncontent-length: 3\r\nx-backend: raw\r\n\r\n"
                        }
                        Answer::Plain | Answer::CloseWhenIdle => {
                            b"HTTP/1.1 200 OK\r\ncontent-length: 3\r\nx-backend: raw\r\n\r\nok\n"
                        }
                        Answer::Chunked => b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\nx-backend: raw\r\n\r\n2\r\nok\r\n1\r\n\n\r\n0\r\n\r\n",
                        Answer::NoContent => b"HTTP/1.1 204 No Content\r\nx-backend: raw\r\n\r\n",
                        Answer::Close => b"HTTP/1.1 200 OK\r\ncontent-length: 3\r\nconnection: close\r\nx-backend: raw\r\n\r\nok\n",
                    };
                    if s.write_all(out).await.is_err() {
                        return;
                    }
                    if matches!(answer, Answer::Close) {
                        let _ = s.shutdown().await;
                        return;
                    }
                }
            });
        }
    });
    (addr, accepted)
}

async fn sequential(weir: &Weir, method: &str, n: usize, pause: Duration) -> Vec<u16> {
    let client = Client::http1();
    let mut statuses = Vec::new();
    for _ in 0..n {
        let req = hyper::Request::builder()
            .method(method)
            .uri(format!("http://{}/", weir.authority()))
            .body(http_body_util::Full::new(bytes::Bytes::new()))
            .unwrap();
        let o = client.request(req).await.expect("weir answers");
        statuses.push(o.status);
        tokio::time::sleep(pause).await;
    }
    statuses
}

async fn weir_on(addr: SocketAddr) -> Weir {
    Weir::start(&config(&[("stable", addr, 100)], "", "")).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keep_alive_connections_are_reused_whatever_the_body() {
    for answer in [Answer::Plain, Answer::Chunked, Answer::NoContent] {
        let (addr, accepted) = raw_backend(answer).await;
        let weir = weir_on(addr).await;
        let statuses = sequential(&weir, "GET", 30, Duration::ZERO).await;
        let expected = if matches!(answer, Answer::NoContent) {
            204
        } else {
            200
        };
        assert!(statuses.iter().all(|s| *s == expected), "{statuses:?}");
        assert_eq!(
            accepted.load(Ordering::SeqCst),
            1,
            "30 sequential requests must share one upstream connection"
        );
    }
    // HEAD: the answer announces a body it does not send; the connection is still reusable.
    let (addr, accepted) = raw_backend(Answer::Plain).await;
    let weir = weir_on(addr).await;
    let statuses = sequential(&weir, "HEAD", 20, Duration::ZERO).await;
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    assert_eq!(accepted.load(Ordering::SeqCst), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_the_server_closed_never_fails_a_request() {
    // Idle close: every pause outlasts the server's 30 ms keep-alive, so each request
    // finds its pooled connection closed (or closing) and must not fail because of it.
    let (addr, accepted) = raw_backend(Answer::CloseWhenIdle).await;
    let weir = weir_on(addr).await;
    let statuses = sequential(&weir, "GET", 15, Duration::from_millis(60)).await;
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    assert!(accepted.load(Ordering::SeqCst) >= 15);

    // `connection: close` on every answer: a new connection per request, no failures.
    let (addr, accepted) = raw_backend(Answer::Close).await;
    let weir = weir_on(addr).await;
    let statuses = sequential(&weir, "GET", 15, Duration::ZERO).await;
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    assert_eq!(accepted.load(Ordering::SeqCst), 15);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_h2c_upstream_gets_http2_with_the_clients_host_over_one_connection() {
    let backend = support::Backend::start("h2-backend").await;
    let yaml = format!(
        "listeners:\n  - address: 127.0.0.1:0\nadmin:\n  address: 127.0.0.1:0\nservices:\n  \
         stable:\n    endpoints: [\"{}\"]\n    protocol: h2c\nroutes:\n  - name: web\n    \
         backends: [{{service: stable, weight: 100}}]\n",
        backend.addr
    );
    let weir = Weir::start(&yaml).await;
    let Client::Http1(client) = Client::http1() else {
        unreachable!()
    };
    // 40 at once, carried as streams of one HTTP/2 connection to the backend. (Whether
    // requests racing the very first connect wait for it, as `h2_connecting` makes them,
    // depends on timing this test does not control: here the first request usually
    // connects before the others arrive.)
    let calls = (0..40).map(|i| {
        let client = client.clone();
        let uri = format!("http://{}/r/{i}", weir.authority());
        async move {
            let req = hyper::Request::get(uri)
                .header("host", "app.example.com")
                .body(http_body_util::Full::new(bytes::Bytes::new()))
                .unwrap();
            client.request(req).await.expect("weir answers")
        }
    });
    let answers = futures_util::future::join_all(calls).await;
    for resp in &answers {
        assert_eq!(resp.status(), 200);
        let h = resp.headers();
        assert_eq!(h["x-backend"], "h2-backend");
        assert_eq!(
            h["x-seen-version"], "HTTP/2.0",
            "weir must speak h2c upstream"
        );
        assert_eq!(
            h["x-seen-host"], "app.example.com",
            "the client's host travels as :authority"
        );
    }
    assert_eq!(backend.hits(), 40);
    assert_eq!(
        backend.connections(),
        1,
        "h2c requests share one upstream connection"
    );
}
