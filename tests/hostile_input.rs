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

/// Found by the soak test: a client that connects and never sends a byte was never
/// closed (tokio starts an accepted socket as readable, and the read that followed had no
/// timer), so a few silent connections could take every `maxConnections` slot. Now the
/// header-read timeout closes it, and its slot serves the next client.
#[tokio::test]
async fn a_client_that_never_sends_a_byte_is_closed_at_the_header_timeout() {
    use tokio::io::AsyncReadExt;
    let a = Backend::start("a").await;
    let b = Backend::start("b").await;
    let yaml = two_hosts(&a, &b) + "limits: {headerReadTimeout: 1s, maxConnections: 2}\n";
    let weir = Weir::start(&yaml).await;
    let started = std::time::Instant::now();
    let mut silent = Vec::new();
    for _ in 0..2 {
        silent.push(
            tokio::net::TcpStream::connect(weir.listeners[0])
                .await
                .unwrap(),
        );
    }
    for s in &mut silent {
        let mut byte = [0u8; 1];
        let n = tokio::time::timeout(std::time::Duration::from_secs(5), s.read(&mut byte))
            .await
            .expect("closed within 5 s, not held for ever")
            .unwrap_or(0);
        assert_eq!(n, 0, "closed without an answer");
    }
    assert!(started.elapsed() >= std::time::Duration::from_millis(900));
    let mut s = tokio::net::TcpStream::connect(weir.listeners[0])
        .await
        .unwrap();
    s.write_all(b"GET / HTTP/1.1\r\nHost: a.test\r\n\r\n")
        .await
        .unwrap();
    let answer = support::raw::read_answers(&mut s, 1, false).await.remove(0);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

/// Found by the soak test: a SIGHUP sent as soon as the ready file appears ended the
/// process (its default action), because the handler was installed only when a task
/// first ran, after the file was written. `weir proxy` and `weir run`, five times each.
#[test]
fn a_sighup_right_after_the_ready_file_reloads_and_does_not_kill() {
    let dir = tempfile::tempdir().unwrap();
    let proxy = "listeners:\n  - address: 127.0.0.1:0\nadmin:\n  address: 127.0.0.1:0\nservices:\n  a: {endpoints: [\"127.0.0.1:9\"]}\nroutes:\n  - name: a\n    backends: [{service: a, weight: 1}]\n";
    std::fs::write(dir.path().join("proxy.yaml"), proxy).unwrap();
    for (mode, extra) in [("proxy", vec![]), ("run", vec!["--state-dir".to_string()])] {
        for i in 0..5 {
            let ready = dir.path().join(format!("ready-{mode}-{i}.json"));
            let mut args = vec![mode.to_string(), "-c".into(), "proxy.yaml".into()];
            if !extra.is_empty() {
                args.push(extra[0].clone());
                args.push(dir.path().join(format!("state-{i}")).display().to_string());
            }
            args.push("--ready-file".into());
            args.push(ready.display().to_string());
            let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_weir"))
                .args(&args)
                .current_dir(dir.path())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .unwrap();
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
            // As tight as a supervisor could be: no sleep between looks.
            while !ready.exists() {
                assert!(
                    std::time::Instant::now() < deadline,
                    "weir {mode} became ready"
                );
                if let Ok(Some(status)) = child.try_wait() {
                    panic!("weir {mode} exited before it was ready: {status}");
                }
            }
            let hup = std::process::Command::new("kill")
                .args(["-HUP", &child.id().to_string()])
                .status()
                .unwrap();
            assert!(hup.success());
            std::thread::sleep(std::time::Duration::from_millis(300));
            let alive = child.try_wait().unwrap();
            let _ = child.kill();
            let _ = child.wait();
            assert!(
                alive.is_none(),
                "weir {mode} died of a SIGHUP sent at readiness (run {i}): {alive:?}"
            );
        }
    }
}
