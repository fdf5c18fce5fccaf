//! Header handling on the request path: hop-by-hop stripping and forwarded headers, on a
//! typical browser-like request (no hop-by-hop header) and on an HTTP/1.0-style one.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use http::header::{HeaderMap, HeaderValue};
use weir_proxy::headers::{prepare_headers, strip_hop_by_hop, ClientInfo};

fn typical() -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in [
        ("host", "app.example.com"),
        ("user-agent", "Mozilla/5.0 (X11; Linux x86_64)"),
        ("accept", "text/html,application/xhtml+xml"),
        ("accept-encoding", "gzip, deflate, br"),
        ("accept-language", "en-US,en;q=0.9"),
        ("cookie", "session=abc123; theme=dark"),
    ] {
        h.insert(k, HeaderValue::from_static(v));
    }
    h
}

fn bench(c: &mut Criterion) {
    let client = ClientInfo::new("10.1.2.3:5555".parse().unwrap(), false);
    c.bench_function("prepare_headers typical request", |b| {
        b.iter_batched_ref(
            typical,
            |h| prepare_headers(h, None, &client, false),
            BatchSize::SmallInput,
        )
    });
    c.bench_function("strip_hop_by_hop typical response", |b| {
        b.iter_batched_ref(typical, strip_hop_by_hop, BatchSize::SmallInput)
    });
    c.bench_function("strip_hop_by_hop with connection: keep-alive", |b| {
        b.iter_batched_ref(
            || {
                let mut h = typical();
                h.insert("connection", HeaderValue::from_static("keep-alive"));
                h.insert("keep-alive", HeaderValue::from_static("timeout=5"));
                h
            },
            strip_hop_by_hop,
            BatchSize::SmallInput,
        )
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
