//! The admin API's numbers against the traffic actually sent, its token, and the
//! listener's limits: slowloris, oversize headers, connection cap, graceful shutdown,
//! upgrades.

mod support;

use std::time::{Duration, Instant};
use support::client::load;
use support::weir::config;
use support::{read_until_closed, Backend, BackendOptions, Client, Weir};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A keep-alive connection to weir's first listener that has had one GET answered 200
/// (the status line read, the rest of the answer left in the socket).
async fn answered_once(weir: &Weir) -> TcpStream {
    let mut s = TcpStream::connect(weir.listeners[0]).await.unwrap();
    s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut status = [0u8; 12];
    s.read_exact(&mut status).await.unwrap();
    assert_eq!(&status, b"HTTP/1.1 200");
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_and_stats_agree_with_the_requests_sent() {
    let ok = Backend::start("ok").await;
    let failing = Backend::start_with(
        "failing",
        BackendOptions {
            delay: Duration::from_millis(20),
            status: 500,
        },
    )
    .await;
    let weir = Weir::start(&config(
        &[("ok", ok.addr, 70), ("failing", failing.addr, 30)],
        "    retries: {attempts: 0}\n",
        "",
    ))
    .await;
    let outcomes = load(&Client::http1(), &weir.authority(), 500, 10).await;
    let sent_ok = outcomes.iter().filter(|o| o.status == 200).count() as u64;
    let sent_500 = outcomes.iter().filter(|o| o.status == 500).count() as u64;
    assert_eq!(sent_ok + sent_500, 500);
    assert_eq!((ok.hits(), failing.hits()), (sent_ok, sent_500));

    let m = |s: &str| s.to_string();
    assert_eq!(
        weir.metric(&m(
            "weir_requests_total{route=\"web\",backend=\"ok\",code=\"200\"}"
        ))
        .await as u64,
        sent_ok
    );
    assert_eq!(
        weir.metric(&m(
            "weir_requests_total{route=\"web\",backend=\"failing\",code=\"500\"}"
        ))
        .await as u64,
        sent_500
    );
    assert_eq!(
        weir.metric(&m(
            "weir_request_duration_seconds_count{route=\"web\",backend=\"failing\"}"
        ))
        .await as u64,
        sent_500
    );
    // Every failing answer took at least 20 ms: none is in the buckets below it.
    assert_eq!(
        weir.metric(&m(
            "weir_request_duration_seconds_bucket{route=\"web\",backend=\"failing\",le=\"0.01\"}"
        ))
        .await,
        0.0
    );
    assert_eq!(
        weir.metric(&m(
            "weir_request_duration_seconds_bucket{route=\"web\",backend=\"failing\",le=\"+Inf\"}"
        ))
        .await as u64,
        sent_500
    );
    let sum = weir
        .metric(&m(
            "weir_request_duration_seconds_sum{route=\"web\",backend=\"failing\"}",
        ))
        .await;
    assert!(sum >= 0.020 * sent_500 as f64, "sum {sum}");

    let stats = weir.admin_json("/stats?route=web&window=60s").await;
    let b = |name: &str| {
        stats["backends"]
            .as_array()
            .unwrap()
            .iter()
            .find(|b| b["backend"] == name)
            .unwrap()
            .clone()
    };
    assert_eq!(b("ok")["requests"].as_u64().unwrap(), sent_ok);
    assert_eq!(b("ok")["failures"].as_u64().unwrap(), 0);
    assert_eq!(b("ok")["successRate"].as_f64().unwrap(), 1.0);
    assert_eq!(b("failing")["requests"].as_u64().unwrap(), sent_500);
    assert_eq!(b("failing")["successRate"].as_f64().unwrap(), 0.0);
    // The client measured each request; weir's p50 of the failing backend sits between
    // the backend's 20 ms delay and what the client saw, within HDR's 1%.
    let mut client_ms: Vec<f64> = outcomes
        .iter()
        .filter(|o| o.status == 500)
        .map(|o| o.elapsed.as_secs_f64())
        .collect();
    client_ms.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let p50 = b("failing")["latency"]["p50"].as_f64().unwrap();
    assert!(
        p50 >= 0.020 * 0.99 && p50 <= client_ms[client_ms.len() / 2] * 1.01,
        "p50 {p50}, client {:?}",
        client_ms[client_ms.len() / 2]
    );
    let p999 = b("failing")["latency"]["p999"].as_f64().unwrap();
    assert!(
        p999 <= client_ms.last().unwrap() * 1.01,
        "p999 {p999} above the slowest the client saw"
    );

    // The serialized histograms merge to the same counts.
    let hdr = weir
        .admin_json("/stats?route=web&window=60s&format=hdr")
        .await;
    let encoded = hdr["backends"][1]["histogram"].as_str().unwrap();
    let h = weir_proxy::hdr::decode(encoded).unwrap();
    assert_eq!(h.len(), sent_500);

    let (s, body) = weir
        .admin_call("GET", "/stats?route=web&window=11m", "", None)
        .await;
    assert_eq!(s, 400, "{body}");
    assert!(body.contains("at most 10m"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stats_since_the_split_count_only_requests_after_the_last_weight_change() {
    let a = Backend::start("a").await;
    let b = Backend::start("b").await;
    let weir = Weir::start(&config(&[("a", a.addr, 50), ("b", b.addr, 50)], "", "")).await;
    let c = Client::http1();
    let before = load(&c, &weir.authority(), 60, 4).await;
    weir.set_weights("web", r#"{"a": 80, "b": 20}"#).await;
    let after = load(&c, &weir.authority(), 40, 4).await;
    assert_eq!((before.len(), after.len()), (60, 40));
    let total = |v: &serde_json::Value| -> u64 {
        v["backends"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b["requests"].as_u64().unwrap())
            .sum()
    };
    let cut = weir
        .admin_json("/stats?route=web&window=60s&since=split")
        .await;
    assert_eq!(total(&cut), 40, "{cut}");
    let age = cut["splitAgeSeconds"].as_f64().unwrap();
    assert!((0.0..30.0).contains(&age), "{cut}");
    let plain = weir.admin_json("/stats?route=web&window=60s").await;
    assert_eq!(total(&plain), 100, "{plain}");
    // Setting the same weights again starts no new split.
    weir.set_weights("web", r#"{"a": 80, "b": 20}"#).await;
    let again = weir
        .admin_json("/stats?route=web&window=60s&since=split")
        .await;
    assert_eq!(total(&again), 40, "{again}");
    let (status, body) = weir
        .admin_call("GET", "/stats?route=web&since=start", "", None)
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("the only value is"), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_token_is_enforced_beyond_loopback() {
    let ok = Backend::start("ok").await;
    let yaml = config(&[("ok", ok.addr, 1)], "", "").replace(
        "admin:\n  address: 127.0.0.1:0\n",
        "admin:\n  address: 0.0.0.0:0\n  tokenFile: admin.token\n",
    );
    let weir = Weir::start_with_files(&yaml, &[("admin.token", b"s3cret\n")]).await;
    let path = "/routes/web/weights";
    let (s, _) = weir.admin_call("PUT", path, r#"{"ok": 5}"#, None).await;
    assert_eq!(s, 401);
    let (s, _) = weir
        .admin_call("PUT", path, r#"{"ok": 5}"#, Some("wrong"))
        .await;
    assert_eq!(s, 401);
    let (s, body) = weir
        .admin_call("PUT", path, r#"{"ok": 5}"#, Some("s3cret"))
        .await;
    assert_eq!(s, 200, "{body}");
    // Reads stay open.
    let (s, _) = weir.admin_call("GET", "/routes", "", None).await;
    assert_eq!(s, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_beyond_loopback_without_a_token_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let yaml = "listeners:\n  - address: 127.0.0.1:0\nadmin:\n  address: 0.0.0.0:0\nservices: {}\nroutes: []\n";
    std::fs::write(dir.path().join("weir.yaml"), yaml).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_weir"))
        .args(["proxy", "-c"])
        .arg(dir.path().join("weir.yaml"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("weir.yaml:4: admin.tokenFile:"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slowloris_is_cut_at_the_header_timeout_and_big_headers_get_431() {
    let ok = Backend::start("ok").await;
    let limits = "limits:\n  headerReadTimeout: 500ms\n  maxHeaderBytes: 8192\n";
    let weir = Weir::start(&config(&[("ok", ok.addr, 1)], "", limits)).await;

    let mut slow = TcpStream::connect(weir.listeners[0]).await.unwrap();
    slow.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let start = Instant::now();
    // Keep dribbling a header byte every 100 ms; the connection must still be closed.
    let dribble = async {
        for _ in 0..30 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            if slow.write_all(b"X").await.is_err() {
                break;
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(3), dribble)
        .await
        .ok();
    let closed_after = start.elapsed();
    assert!(
        closed_after < Duration::from_secs(2),
        "slowloris connection kept open for {closed_after:?}"
    );
    let rest = read_until_closed(&mut slow, Duration::from_secs(2)).await;
    assert!(rest.is_some(), "connection not closed");

    let mut big = TcpStream::connect(weir.listeners[0]).await.unwrap();
    let huge = "a".repeat(20_000);
    big.write_all(format!("GET / HTTP/1.1\r\nHost: x\r\nX-Big: {huge}\r\n\r\n").as_bytes())
        .await
        .ok();
    let answer = read_until_closed(&mut big, Duration::from_secs(3))
        .await
        .expect("answered and closed");
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 431"), "{text}");
    assert_eq!(ok.hits(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_beyond_the_cap_get_a_clear_503() {
    let ok = Backend::start("ok").await;
    let weir = Weir::start(&config(
        &[("ok", ok.addr, 1)],
        "",
        "limits:\n  maxConnections: 2\n",
    ))
    .await;
    let mut held = Vec::new();
    for _ in 0..2 {
        held.push(answered_once(&weir).await);
    }
    let mut third = TcpStream::connect(weir.listeners[0]).await.unwrap();
    let answer = read_until_closed(&mut third, Duration::from_secs(2))
        .await
        .expect("answered at once");
    let text = String::from_utf8_lossy(&answer);
    assert!(
        text.starts_with("HTTP/1.1 503") && text.contains("x-weir-error: max_connections"),
        "{text}"
    );
    drop(held);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let o = Client::http1()
        .get(&weir.authority(), "/", &[])
        .await
        .unwrap();
    assert_eq!(o.status, 200, "slots free again once connections close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_in_flight_requests_finish() {
    let slow = Backend::start_with(
        "slow",
        BackendOptions {
            delay: Duration::from_millis(800),
            status: 0,
        },
    )
    .await;
    let mut weir = Weir::start(&config(
        &[("slow", slow.addr, 1)],
        "",
        "shutdownGracePeriod: 5s\n",
    ))
    .await;
    // A keep-alive connection left idle after its answer (not yet parked).
    let mut idle = answered_once(&weir).await;
    let c = Client::http1();
    let a = weir.authority();
    let in_flight = tokio::spawn(async move { c.get(&a, "/", &[]).await });
    tokio::time::sleep(Duration::from_millis(200)).await;
    weir.signal("TERM");
    tokio::time::sleep(Duration::from_millis(100)).await;
    // New connections are refused while the old request finishes.
    assert!(
        TcpStream::connect(weir.listeners[0]).await.is_err(),
        "still accepting after SIGTERM"
    );
    let o = in_flight.await.unwrap().unwrap();
    assert_eq!((o.status, o.backend.as_deref()), (200, Some("slow")));
    // The idle connection is closed, not held for the grace period.
    let rest = read_until_closed(&mut idle, Duration::from_secs(3)).await;
    assert!(rest.is_some(), "the idle connection was left open");
    let status = tokio::task::spawn_blocking(move || {
        weir.wait_exit(Duration::from_secs(5))
            .map(|s| (s, weir.logs()))
    })
    .await
    .unwrap();
    let (status, logs) = status.expect("weir exits after the grace period");
    assert!(status.success(), "{logs}");
    assert!(logs.contains("all requests finished"), "{logs}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upgrades_pass_through() {
    let echo = Backend::start("echo").await;
    let weir = Weir::start(&config(&[("echo", echo.addr, 1)], "", "")).await;
    let mut s = TcpStream::connect(weir.listeners[0]).await.unwrap();
    s.write_all(b"GET /ws HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\nUpgrade: echo\r\n\r\n")
        .await
        .unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        s.read_exact(&mut byte).await.unwrap();
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head).to_ascii_lowercase();
    assert!(head.starts_with("http/1.1 101"), "{head}");
    assert!(head.contains("upgrade: echo"), "{head}");
    s.write_all(b"ping through the tunnel").await.unwrap();
    let mut back = [0u8; 23];
    tokio::time::timeout(Duration::from_secs(2), s.read_exact(&mut back))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&back, b"ping through the tunnel");
}
