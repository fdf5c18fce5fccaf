//! Listeners: accept loops for plain (HTTP/1.1 and h2c) and TLS connections, the
//! connection cap, the header-read timeout, and graceful shutdown.

use crate::h1_server;
use crate::park::Parking;
use crate::state::Proxy;
use bytes::Bytes;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};
use tokio_rustls::TlsAcceptor;
use weir_config::proxy::Limits;

/// What every accept loop shares.
#[derive(Clone)]
pub struct Listening {
    pub proxy: Arc<Proxy>,
    /// One permit per open client connection; when none is left, new connections are
    /// answered 503 and closed instead of queueing without bound.
    pub connection_slots: Arc<Semaphore>,
    pub limits: Limits,
    /// Flips to true when shutdown starts: accept loops stop accepting.
    pub shutdown: watch::Receiver<bool>,
}

/// The HTTP server settings shared by every connection.
pub fn http_builder(limits: &Limits) -> auto::Builder<TokioExecutor> {
    let mut b = auto::Builder::new(TokioExecutor::new());
    b.http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout.get())
        .max_buf_size(limits.max_header_bytes.max(8192));
    b.http2()
        .timer(TokioTimer::new())
        .max_header_list_size(u32::try_from(limits.max_header_bytes).unwrap_or(u32::MAX));
    b
}

const OVERLOADED: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nconnection: close\r\nx-weir-error: max_connections\r\ncontent-length: 0\r\n\r\n";

/// Accepts connections on `listener` until shutdown, serving each on its own task
/// watched by `graceful` so shutdown can wait for in-flight requests.
pub async fn accept_loop(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    ctx: Listening,
    graceful: Arc<GracefulShutdown>,
) {
    let builder = Arc::new(http_builder(&ctx.limits));
    let mut shutdown = ctx.shutdown.clone();
    // What weir's HTTP/1.1 server needs for this listener's connections; plain listeners
    // park their idle connections in its set.
    let parking = match Parking::new(
        ctx.proxy.clone(),
        tls.is_some(),
        builder.clone(),
        graceful.clone(),
        ctx.limits.header_read_timeout.get(),
        ctx.shutdown.clone(),
    ) {
        Ok((parking, run)) => {
            if let Some(run) = run {
                tokio::spawn(run);
            }
            parking
        }
        Err(e) => {
            tracing::error!(error = %e, "cannot create the idle connection set; not serving this listener");
            return;
        }
    };
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = shutdown.changed() => break,
        };
        let (stream, addr) = match accepted {
            Ok(a) => a,
            Err(e) => {
                // Out of file descriptors and the like: back off instead of spinning.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let Ok(permit) = ctx.connection_slots.clone().try_acquire_owned() else {
            tokio::spawn(async move {
                let mut stream = stream;
                let _ = stream.write_all(OVERLOADED).await;
                let _ = stream.shutdown().await;
            });
            continue;
        };
        let Some(conn) = parking.conn(addr, permit) else {
            continue;
        };
        let Some(acceptor) = tls.clone() else {
            // Plain connections get a task of their own type, sized for weir's HTTP/1.1
            // server alone (a task is as large as the largest future it may run).
            tokio::spawn(h1_server::serve(stream, conn));
            continue;
        };
        let handshake_timeout = ctx.limits.header_read_timeout.get();
        tokio::spawn(async move {
            let stream =
                match tokio::time::timeout(handshake_timeout, acceptor.accept(stream)).await {
                    Ok(Ok(s)) => s,
                    Ok(Err(e)) => {
                        tracing::debug!(client = %addr, error = %e, "TLS handshake failed");
                        return;
                    }
                    Err(_) => {
                        tracing::debug!(client = %addr, "TLS handshake timed out");
                        return;
                    }
                };
            // HTTP/1.1 (chosen, or no ALPN) goes to weir's own server, which hands what
            // it does not serve to hyper; h2 goes to hyper's.
            if stream.get_ref().1.alpn_protocol() != Some(b"h2") {
                return h1_server::serve(stream, conn).await;
            }
            h1_server::hand_off(stream, Bytes::new(), conn).await;
        });
    }
}
