//! A built-in demo backend: answers every request with its name, failing a given share
//! of them with 500 and adding a given latency. Used by `weir demo`.

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::TcpListener;

#[derive(Clone, Debug)]
pub struct DemoBackend {
    pub name: String,
    /// Share of requests answered 500, 0.0 to 1.0.
    pub error_rate: f64,
    pub latency: Duration,
}

impl DemoBackend {
    /// Binds 127.0.0.1:0 and serves in the background; returns the address.
    pub async fn spawn(self) -> anyhow::Result<SocketAddr> {
        self.spawn_on("127.0.0.1:0".parse().expect("a valid address"))
            .await
    }

    /// Binds `addr` and serves in the background; returns the bound address.
    pub async fn spawn_on(self, addr: SocketAddr) -> anyhow::Result<SocketAddr> {
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|e| anyhow::anyhow!("{}: cannot listen on {addr}: {e}", self.name))?;
        let addr = listener.local_addr()?;
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let me = self.clone();
                tokio::spawn(async move {
                    let svc = hyper::service::service_fn(move |_req| {
                        let me = me.clone();
                        async move {
                            if !me.latency.is_zero() {
                                tokio::time::sleep(me.latency).await;
                            }
                            let fail = fastrand::f64() < me.error_rate;
                            let mut resp =
                                Response::new(Full::new(Bytes::from(format!("{}\n", me.name))));
                            if fail {
                                *resp.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
                            }
                            Ok::<_, std::convert::Infallible>(resp)
                        }
                    });
                    let _ = auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
        });
        Ok(addr)
    }
}
