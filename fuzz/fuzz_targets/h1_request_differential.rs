//! weir's HTTP/1.1 request framing against hyper's, on the same bytes.
//!
//! weir's own server serves a request only when it is sure of it, and hands everything
//! else to hyper's server (the one it runs for every other connection). So whenever weir
//! *serves* a request, hyper 1.x's HTTP/1 server (on an in-memory duplex stream, the input
//! followed by the client closing its side) must accept that same first request, with the
//! same method, target, headers and body bytes. weir may be stricter (hand it off, or
//! answer 400, where hyper would serve it), never looser: a request weir serves and hyper
//! refuses, or reads differently, is one that a front proxy and weir could frame
//! differently (request smuggling).
//!
//! hyper runs as weir configures it (`server::http_builder`: default limits, a 64 KiB
//! buffer), with `half_close` so that the closed input does not cancel the request.

#![no_main]

use std::convert::Infallible;
use std::sync::{Arc, Mutex, OnceLock};

use bytes::{Bytes, BytesMut};
use http_body_util::{BodyExt, Empty};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use libfuzzer_sys::fuzz_target;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use weir_proxy::fuzzing::{parse_request, Request};

/// What hyper's server made of the first request.
#[derive(Debug)]
struct Seen {
    method: http::Method,
    uri: http::Uri,
    version: http::Version,
    headers: http::HeaderMap,
    /// The body, or why reading it failed.
    body: Result<Bytes, String>,
}

fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a runtime")
    })
}

/// The first request hyper's HTTP/1 server hands its service for `input`, if any.
fn hyper_first_request(input: &[u8]) -> Option<Seen> {
    runtime().block_on(async {
        let (mut client, server) = tokio::io::duplex(input.len() + 64 * 1024);
        client.write_all(input).await.expect("the duplex holds it");
        client.shutdown().await.expect("shutdown");
        let seen: Arc<Mutex<Option<Seen>>> = Arc::default();
        let record = seen.clone();
        let svc = service_fn(move |req: http::Request<Incoming>| {
            let record = record.clone();
            async move {
                let (parts, body) = req.into_parts();
                let body = body
                    .collect()
                    .await
                    .map(|b| b.to_bytes())
                    .map_err(|e| e.to_string());
                let mut slot = record.lock().unwrap();
                if slot.is_none() {
                    *slot = Some(Seen {
                        method: parts.method,
                        uri: parts.uri,
                        version: parts.version,
                        headers: parts.headers,
                        body,
                    });
                }
                Ok::<_, Infallible>(http::Response::new(Empty::<Bytes>::new()))
            }
        });
        let conn = hyper::server::conn::http1::Builder::new()
            .half_close(true)
            .max_buf_size(64 * 1024)
            .serve_connection(TokioIo::new(server), svc)
            .with_upgrades();
        let drain = async {
            let mut answers = Vec::new();
            let _ = client.read_to_end(&mut answers).await;
        };
        let _ = tokio::join!(conn, drain);
        let seen = seen.lock().unwrap().take();
        seen
    })
}

fuzz_target!(|data: &[u8]| {
    let mut buf = BytesMut::from(data);
    let Request::Serve { parts, body, .. } = parse_request(&mut buf) else {
        // Handed off (hyper serves it) or answered 400: weir is at most stricter.
        return;
    };
    let Some(seen) = hyper_first_request(data) else {
        panic!(
            "weir serves {} {} with a {}-byte body, hyper's server refuses the request",
            parts.method,
            parts.uri,
            body.len()
        );
    };
    assert_eq!(seen.method, parts.method, "method");
    assert_eq!(seen.uri, parts.uri, "target");
    assert_eq!(seen.uri.to_string(), parts.uri.to_string(), "target");
    assert_eq!(seen.version, http::Version::HTTP_11, "version");
    assert_eq!(seen.headers, parts.headers, "headers");
    match seen.body {
        Ok(b) => assert_eq!(
            b,
            body,
            "body: weir took {} bytes, hyper {}",
            body.len(),
            b.len()
        ),
        Err(e) => panic!(
            "weir serves a {}-byte body, hyper's body fails: {e}",
            body.len()
        ),
    }
});
