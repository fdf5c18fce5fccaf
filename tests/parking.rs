//! Idle keep-alive connections on plain listeners park after a second of idleness (no task,
//! timer or buffer of their own; `proxy/src/park.rs`) and come back when their client sends
//! again. Seen from raw TCP clients against the real binary: the `weir_parked_connections`
//! gauge, requests on parked connections (pipelined too), the idle timeout kept while
//! parked, clients that close while parked, the connection cap still counting parked
//! connections, and SIGTERM closing them.

mod support;

use std::time::{Duration, Instant};
use support::weir::config;
use support::{closed_within, read_until_closed, Backend, Weir};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const GET: &[u8] = b"GET / HTTP/1.1\r\nhost: a\r\n\r\n";

/// Sends `n` pipelined GETs on `s` and reads their `n` answers (each with a
/// content-length body); returns the status lines.
async fn exchange(s: &mut TcpStream, n: usize) -> Vec<String> {
    s.write_all(&GET.repeat(n)).await.unwrap();
    let mut buf = Vec::new();
    let mut out = Vec::new();
    let mut chunk = [0u8; 4096];
    while out.len() < n {
        let text = String::from_utf8_lossy(&buf).to_string();
        if let Some(end) = text.find("\r\n\r\n") {
            let len: usize = text[..end]
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length: ")
                        .map(|v| v.trim().parse().unwrap())
                })
                .unwrap_or(0);
            if buf.len() >= end + 4 + len {
                out.push(text.lines().next().unwrap().to_string());
                buf.drain(..end + 4 + len);
                continue;
            }
        }
        let r = tokio::time::timeout(Duration::from_secs(5), s.read(&mut chunk))
            .await
            .expect("answered within 5 s")
            .unwrap();
        assert!(r > 0, "closed after {} of {n} answers", out.len());
        buf.extend_from_slice(&chunk[..r]);
    }
    out
}

/// Waits (up to 5 s) until `weir_parked_connections` is `n`; returns how long it took.
async fn parked(weir: &Weir, n: u32) -> Duration {
    let start = Instant::now();
    loop {
        let now = weir.metric("weir_parked_connections").await;
        if now == f64::from(n) {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "weir_parked_connections is {now}, expected {n}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connections_park_and_are_served_again_when_their_clients_send() {
    let b = Backend::start("b").await;
    let weir = Weir::start(&config(&[("b", b.addr, 1)], "", "")).await;
    let mut conns = Vec::new();
    for _ in 0..20 {
        let mut s = TcpStream::connect(weir.listeners[0]).await.unwrap();
        assert_eq!(exchange(&mut s, 1).await, ["HTTP/1.1 200 OK"]);
        conns.push(s);
    }
    // Busy connections do not park; idle ones do, after about a second.
    assert_eq!(weir.metric("weir_parked_connections").await, 0.0);
    let took = parked(&weir, 20).await;
    assert!(took >= Duration::from_millis(500), "parked after {took:?}");
    // Each is served again from the set, pipelined requests included.
    for (i, s) in conns.iter_mut().enumerate() {
        let answers = exchange(s, 1 + i % 3).await;
        assert_eq!(answers, vec!["HTTP/1.1 200 OK"; 1 + i % 3]);
    }
    assert_eq!(weir.metric("weir_parked_connections").await, 0.0);
    // And parks again once idle.
    parked(&weir, 20).await;
    for s in &mut conns {
        assert_eq!(exchange(s, 1).await, ["HTTP/1.1 200 OK"]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_parked_connection_is_closed_at_its_idle_timeout_and_a_closed_one_is_let_go() {
    let b = Backend::start("b").await;
    let weir = Weir::start(&config(
        &[("b", b.addr, 1)],
        "",
        "limits:\n  headerReadTimeout: 2500ms\n",
    ))
    .await;
    let mut kept = TcpStream::connect(weir.listeners[0]).await.unwrap();
    let mut left = TcpStream::connect(weir.listeners[0]).await.unwrap();
    exchange(&mut kept, 1).await;
    exchange(&mut left, 1).await;
    let answered = Instant::now();
    parked(&weir, 2).await;
    // A client that goes away while parked is let go at once.
    drop(left);
    parked(&weir, 1).await;
    // The other is closed by the set at the idle timeout: about 2.5 s after its answer.
    assert!(closed_within(&mut kept, Duration::from_secs(5)).await);
    let after = answered.elapsed();
    assert!(
        after >= Duration::from_millis(2400) && after < Duration::from_millis(4000),
        "closed {after:?} after the answer"
    );
    assert_eq!(weir.metric("weir_parked_connections").await, 0.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parked_connections_keep_their_slot_and_sigterm_closes_them() {
    let b = Backend::start("b").await;
    let mut weir = Weir::start(&config(
        &[("b", b.addr, 1)],
        "",
        "limits:\n  maxConnections: 2\n",
    ))
    .await;
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut s = TcpStream::connect(weir.listeners[0]).await.unwrap();
        exchange(&mut s, 1).await;
        held.push(s);
    }
    parked(&weir, 2).await;
    // Parked connections still count against maxConnections.
    let mut third = TcpStream::connect(weir.listeners[0]).await.unwrap();
    let answer = read_until_closed(&mut third, Duration::from_secs(2))
        .await
        .expect("answered at once");
    assert!(
        String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 503"),
        "{}",
        String::from_utf8_lossy(&answer)
    );
    // SIGTERM closes parked connections; weir exits without waiting out a grace period.
    weir.signal("TERM");
    for s in &mut held {
        assert!(closed_within(s, Duration::from_secs(3)).await);
    }
    let status = tokio::task::spawn_blocking(move || weir.wait_exit(Duration::from_secs(5)))
        .await
        .unwrap();
    assert!(status.expect("weir exits").success());
}
