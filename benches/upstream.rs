//! One upstream round trip (GET, small answer, keep-alive) from the proxy's side: weir's
//! own per-endpoint pool (`Endpoint::send`) against hyper-util's legacy pooled client,
//! which weir used before. Both talk to the same in-process hyper server on loopback, on
//! one current-thread runtime, so the difference is the client and pool code. Each
//! iteration runs 64 requests at once (64 pooled connections), so the figure is CPU per
//! request rather than loopback latency; divide by 64.

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, Criterion};
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::{TokioExecutor, TokioIo};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::Duration;
use weir_config::proxy::UpstreamProtocol;
use weir_proxy::body::{empty, ProxyBody};
use weir_proxy::upstream::Endpoint;

const CONCURRENT: usize = 64;

async fn server() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (s, _) = listener.accept().await.unwrap();
            let _ = s.set_nodelay(true);
            tokio::spawn(async move {
                let svc = service_fn(|_req: Request<hyper::body::Incoming>| async {
                    Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"ok\n"))))
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(s), svc)
                    .await;
            });
        }
    });
    addr
}

fn get(uri: &str) -> Request<ProxyBody> {
    Request::builder()
        .uri(uri)
        .header("host", "app.example.com")
        .body(empty())
        .unwrap()
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let addr = rt.block_on(server());

    let endpoint = Endpoint::new(addr);
    c.bench_function("upstream 64 GETs: weir pool", |b| {
        b.iter(|| {
            rt.block_on(futures_util::future::join_all((0..CONCURRENT).map(
                |_| async {
                    let resp = endpoint
                        .send_request(UpstreamProtocol::Http1, Duration::from_secs(1), get("/"))
                        .await
                        .unwrap();
                    resp.into_body().collect().await.unwrap();
                },
            )))
        })
    });

    let mut conn = HttpConnector::new();
    conn.set_nodelay(true);
    let legacy: Client<HttpConnector, ProxyBody> =
        Client::builder(TokioExecutor::new()).build(conn);
    let uri = format!("http://{addr}/");
    c.bench_function("upstream 64 GETs: hyper-util legacy client", |b| {
        b.iter(|| {
            rt.block_on(futures_util::future::join_all((0..CONCURRENT).map(
                |_| async {
                    let resp = legacy.request(get(&uri)).await.unwrap();
                    resp.into_body().collect().await.unwrap();
                },
            )))
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
