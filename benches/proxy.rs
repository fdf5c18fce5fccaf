//! A whole proxied request, in process: a client, weir (`run::start`, one listener, a
//! 90/10 split) and two backends, all on one current-thread runtime on loopback, as weir
//! runs with `--workers 1`. Each iteration sends one GET on each of 64 keep-alive
//! connections at once, so the figure is CPU per 64 requests (client, weir and backends
//! together, system calls included), not loopback latency.
//!
//! The client and backends are as lean as they can be (fixed request and answer bytes,
//! `httparse` to frame the answer), so most of what changes between two builds is
//! weir's. The h2c case uses hyper's HTTP/2 client, one stream in flight per connection.
//!
//! The measure is the CPU time of the runtime's thread (`/proc/thread-self/schedstat`),
//! where everything runs, rather than wall time, so time other processes hold the core
//! is left out. On this shared 2-core VM it still varies by up to a third between runs of
//! the same binary: compare builds in interleaved runs, and count instructions with
//! `benches/profile.sh` for a figure that does not move.

use bytes::{Bytes, BytesMut};
use criterion::measurement::{Measurement, ValueFormatter};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::{TokioExecutor, TokioIo};
use std::net::SocketAddr;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const CONNS: usize = 64;
const REQUEST: &[u8] = b"GET / HTTP/1.1\r\nhost: app.example.com\r\nuser-agent: bench\r\n\r\n";

/// A backend that answers every request on a connection with the same bytes.
async fn backend(body: &'static str) -> SocketAddr {
    let answer: &'static [u8] = format!(
        "HTTP/1.1 200 OK\r\nserver: bench\r\ndate: Fri, 27 Nov 2026 00:00:00 GMT\r\ncontent-type: text/plain\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .leak()
    .as_bytes();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (mut s, _) = listener.accept().await.unwrap();
            s.set_nodelay(true).unwrap();
            tokio::spawn(async move {
                let mut buf = BytesMut::with_capacity(4096);
                loop {
                    match s.read_buf(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(_) => {}
                    }
                    // Bodiless GETs: one answer per complete head.
                    while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        let _ = buf.split_to(end + 4);
                        if s.write_all(answer).await.is_err() {
                            return;
                        }
                    }
                }
            });
        }
    });
    addr
}

async fn start_weir() -> (weir_proxy::run::Running, SocketAddr) {
    let stable = backend("stable\n").await;
    let canary = backend("canary\n").await;
    let yaml = format!(
        "listeners:\n  - address: 127.0.0.1:0\nadmin:\n  address: 127.0.0.1:0\nservices:\n  stable: {{endpoints: [\"{stable}\"]}}\n  canary: {{endpoints: [\"{canary}\"]}}\nroutes:\n  - name: web\n    backends: [{{service: stable, weight: 90}}, {{service: canary, weight: 10}}]\n"
    );
    let cfg = weir_config::parse_proxy_config("bench.yaml", &yaml, 1).unwrap();
    let running = weir_proxy::run::start(cfg, std::path::Path::new("."))
        .await
        .unwrap();
    let addr = running.listeners[0];
    (running, addr)
}

/// Sends the request on `s` and reads one whole answer (content-length framed).
async fn round_trip(s: &mut TcpStream, buf: &mut BytesMut) {
    s.write_all(REQUEST).await.unwrap();
    buf.clear();
    loop {
        assert!(
            s.read_buf(buf).await.unwrap() > 0,
            "weir closed the connection"
        );
        let mut headers = [httparse::EMPTY_HEADER; 16];
        let mut resp = httparse::Response::new(&mut headers);
        if let httparse::Status::Complete(head) = resp.parse(buf).unwrap() {
            assert_eq!(resp.code, Some(200));
            let len: usize = resp
                .headers
                .iter()
                .find(|h| h.name.eq_ignore_ascii_case("content-length"))
                .map(|h| std::str::from_utf8(h.value).unwrap().parse().unwrap())
                .expect("a content-length");
            if buf.len() >= head + len {
                return;
            }
        }
    }
}

/// CPU time of the calling thread, in nanoseconds, from `/proc/thread-self/schedstat`.
struct ThreadCpu;

fn thread_cpu_ns() -> u64 {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").unwrap();
    s.split_whitespace().next().unwrap().parse().unwrap()
}

impl Measurement for ThreadCpu {
    type Intermediate = u64;
    type Value = u64;
    fn start(&self) -> u64 {
        thread_cpu_ns()
    }
    fn end(&self, start: u64) -> u64 {
        thread_cpu_ns() - start
    }
    fn add(&self, a: &u64, b: &u64) -> u64 {
        a + b
    }
    fn zero(&self) -> u64 {
        0
    }
    fn to_f64(&self, v: &u64) -> f64 {
        *v as f64
    }
    fn formatter(&self) -> &dyn ValueFormatter {
        &CpuFormatter
    }
}

struct CpuFormatter;

impl ValueFormatter for CpuFormatter {
    fn scale_values(&self, typical_ns: f64, values: &mut [f64]) -> &'static str {
        let (div, unit) = if typical_ns >= 1e6 {
            (1e6, "ms cpu")
        } else {
            (1e3, "us cpu")
        };
        values.iter_mut().for_each(|v| *v /= div);
        unit
    }
    fn scale_throughputs(&self, _typical: f64, t: &Throughput, values: &mut [f64]) -> &'static str {
        let n = match t {
            Throughput::Elements(n) => *n as f64,
            _ => 1.0,
        };
        values.iter_mut().for_each(|v| *v = n * 1e9 / *v);
        "elem/cpu-s"
    }
    fn scale_for_machines(&self, _values: &mut [f64]) -> &'static str {
        "ns"
    }
}

fn bench(c: &mut Criterion<ThreadCpu>) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (_running, addr) = rt.block_on(start_weir());

    let mut conns: Vec<(TcpStream, BytesMut)> = rt.block_on(async {
        let mut v = Vec::new();
        for _ in 0..CONNS {
            let s = TcpStream::connect(addr).await.unwrap();
            s.set_nodelay(true).unwrap();
            v.push((s, BytesMut::with_capacity(1024)));
        }
        v
    });
    c.bench_function("proxy HTTP/1.1: 64 keep-alive GETs at once", |b| {
        b.iter(|| {
            rt.block_on(futures_util::future::join_all(
                conns.iter_mut().map(|(s, buf)| round_trip(s, buf)),
            ))
        })
    });

    let senders = rt.block_on(async {
        let mut v = Vec::new();
        for _ in 0..CONNS {
            let s = TcpStream::connect(addr).await.unwrap();
            s.set_nodelay(true).unwrap();
            let (send, conn) =
                hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(s))
                    .await
                    .unwrap();
            tokio::spawn(conn);
            v.push(send);
        }
        v
    });
    c.bench_function("proxy h2c: 64 connections, one GET each at once", |b| {
        b.iter(|| {
            rt.block_on(futures_util::future::join_all(senders.iter().map(
                |send| async move {
                    let mut send = send.clone();
                    let req = http::Request::get("http://app.example.com/")
                        .body(Empty::<Bytes>::new())
                        .unwrap();
                    let resp = send.send_request(req).await.unwrap();
                    assert_eq!(resp.status(), 200);
                    resp.into_body().collect().await.unwrap();
                },
            )))
        })
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().with_measurement(ThreadCpu);
    targets = bench
}
criterion_main!(benches);
