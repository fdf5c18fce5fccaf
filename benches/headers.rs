//! Header handling on the request path: hop-by-hop stripping and forwarded headers, on a
//! typical browser-like request (no hop-by-hop header) and on an HTTP/1.0-style one.
//! And parsing an upstream's response head (nginx's answer to the benchmark's GET) into a
//! `HeaderMap`, as for hyper's servers, or into the raw lines weir's own HTTP/1.1 server
//! copies on. And the request's head for an HTTP/1.1 upstream, headers prepared and
//! encoded.

use bytes::BytesMut;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use http::header::{HeaderMap, HeaderValue};
use weir_proxy::headers::{prepare_headers, strip_hop_by_hop, ClientInfo, Forwarded};

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

fn wrk() -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert("host", HeaderValue::from_static("127.0.0.1:28080"));
    h
}

fn bench(c: &mut Criterion) {
    let client = ClientInfo::new("10.1.2.3:5555".parse().unwrap(), false);
    c.bench_function("prepare_headers typical request", |b| {
        b.iter_batched_ref(
            typical,
            |h| {
                prepare_headers(h, None, false);
                Forwarded(&client).apply(h)
            },
            BatchSize::SmallInput,
        )
    });
    const NGINX: &[u8] = b"HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nDate: Fri, 27 Nov 2026 01:00:00 GMT\r\nContent-Type: application/octet-stream\r\nContent-Length: 7\r\nConnection: keep-alive\r\n\r\n";
    for (name, raw) in [
        ("parse response head into a HeaderMap", false),
        ("parse response head into raw lines", true),
    ] {
        c.bench_function(name, |b| {
            b.iter_batched_ref(
                || BytesMut::from(NGINX),
                |buf| weir_proxy::h1::parse_response_head(buf, raw).unwrap(),
                BatchSize::SmallInput,
            )
        });
    }
    // What the request path does before the upstream call: prepare the client's headers
    // and encode the HTTP/1.1 head, for wrk's GET (a `host` line only) and a typical one.
    let method = http::Method::GET;
    for (name, headers) in [
        ("upstream head of wrk's GET", wrk as fn() -> HeaderMap),
        ("upstream head of a typical request", typical),
    ] {
        c.bench_function(name, |b| {
            b.iter_batched_ref(
                headers,
                |h| {
                    prepare_headers(h, None, false);
                    let body = weir_proxy::h1::OutBody::Bytes(bytes::Bytes::new());
                    let fwd = Some(Forwarded(&client));
                    weir_proxy::h1::Request::encode(&method, "/", h, "10.0.0.1:80", body, fwd)
                },
                BatchSize::SmallInput,
            )
        });
    }
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
