//! Starting and stopping the proxy: bind every listener and the admin listener, start
//! the background tasks (DNS re-resolution), and shut down gracefully.

use crate::admin::Admin;
use crate::server::{self, Listening};
use crate::state::Proxy;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};
use tokio_rustls::TlsAcceptor;
use weir_config::ProxyConfig;

/// A running proxy.
pub struct Running {
    pub proxy: Arc<Proxy>,
    pub admin: Arc<Admin>,
    /// The bound addresses, in configuration order (useful when a port was 0).
    pub listeners: Vec<SocketAddr>,
    pub admin_address: SocketAddr,
    shutdown: watch::Sender<bool>,
    graceful: Arc<GracefulShutdown>,
    accept_tasks: Vec<tokio::task::JoinHandle<()>>,
}

/// Binds and starts serving. `base` is the directory relative paths (certificates,
/// token file) are resolved against. Errors name what could not be set up.
pub async fn start(config: ProxyConfig, base: &Path) -> Result<Running, String> {
    start_with(config, base, |_| Ok(())).await
}

/// Like [`start`], running `prepare` on the proxy after it is built and before any
/// connection is accepted: the standalone controller restores its persisted weights,
/// endpoints and managed routes there, so no request ever sees the file's defaults.
pub async fn start_with(
    config: ProxyConfig,
    base: &Path,
    prepare: impl FnOnce(&Proxy) -> Result<(), String>,
) -> Result<Running, String> {
    let token = match &config.admin.token_file {
        None => None,
        Some(f) => {
            let path = base.join(f);
            let t = std::fs::read_to_string(&path)
                .map_err(|e| format!("admin.tokenFile {}: {e}", path.display()))?;
            let t = t.trim().to_string();
            if t.is_empty() {
                return Err(format!(
                    "admin.tokenFile {}: the file is empty",
                    path.display()
                ));
            }
            Some(t)
        }
    };
    let mut bound = Vec::new();
    let extra_certificates = crate::tls::ExtraCertificates::default();
    for (i, l) in config.listeners.iter().enumerate() {
        let tls = match &l.tls {
            Some(t) => Some(TlsAcceptor::from(
                crate::tls::server_config(t, base, extra_certificates.clone())
                    .map_err(|e| format!("listeners[{i}].tls: {e}"))?,
            )),
            None => None,
        };
        let listener = TcpListener::bind(&l.address.value)
            .await
            .map_err(|e| format!("listeners[{i}]: cannot listen on {}: {e}", l.address.value))?;
        bound.push((listener, tls));
    }
    let admin_listener = TcpListener::bind(&config.admin.address.value)
        .await
        .map_err(|e| {
            format!(
                "admin: cannot listen on {}: {e}",
                config.admin.address.value
            )
        })?;

    let limits = config.limits;
    let proxy = Proxy::new(config)?;
    proxy.set_extra_certificates_handle(extra_certificates);
    prepare(&proxy)?;
    for svc in proxy.upstreams.all_services() {
        if svc.needs_dns() {
            svc.resolve().await;
        }
    }
    spawn_resolver(proxy.clone());

    let (shutdown, shutdown_rx) = watch::channel(false);
    let graceful = Arc::new(GracefulShutdown::new());
    let ctx = Listening {
        proxy: proxy.clone(),
        connection_slots: Arc::new(Semaphore::new(limits.max_connections)),
        limits,
        shutdown: shutdown_rx.clone(),
    };
    let mut listeners = Vec::new();
    let mut accept_tasks = Vec::new();
    for (listener, tls) in bound {
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        tracing::info!(address = %addr, tls = tls.is_some(), "listening");
        listeners.push(addr);
        accept_tasks.push(tokio::spawn(server::accept_loop(
            listener,
            tls,
            ctx.clone(),
            graceful.clone(),
        )));
    }

    let admin = Arc::new(Admin {
        proxy: proxy.clone(),
        token,
        ready: true.into(),
        extensions: Default::default(),
        weights_log: Default::default(),
    });
    let admin_address = admin_listener.local_addr().map_err(|e| e.to_string())?;
    tracing::info!(address = %admin_address, "admin listening");
    tokio::spawn(admin_loop(admin_listener, admin.clone(), shutdown_rx));
    // What parsing and building the configuration freed need not stay resident.
    crate::park::release_memory();

    Ok(Running {
        proxy,
        admin,
        listeners,
        admin_address,
        shutdown,
        graceful,
        accept_tasks,
    })
}

async fn admin_loop(listener: TcpListener, admin: Arc<Admin>, mut shutdown: watch::Receiver<bool>) {
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = shutdown.changed() => return,
        };
        let Ok((stream, _)) = accepted else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let admin = admin.clone();
        tokio::spawn(async move {
            let svc = service_fn(move |req| admin.clone().serve(req));
            let _ = auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(stream), svc)
                .await;
        });
    }
}

/// Re-resolves services whose endpoints are DNS names, each on its own interval.
fn spawn_resolver(proxy: Arc<Proxy>) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        let mut last: std::collections::HashMap<String, tokio::time::Instant> = Default::default();
        loop {
            tick.tick().await;
            let config = proxy.config();
            for svc in proxy.upstreams.all_services() {
                if !svc.needs_dns() {
                    continue;
                }
                let every = config
                    .services
                    .get(&svc.name)
                    .map(|s| s.resolve_interval.get())
                    .unwrap_or(Duration::from_secs(30));
                let now = tokio::time::Instant::now();
                if last
                    .get(&svc.name)
                    .is_some_and(|t| now.duration_since(*t) < every)
                {
                    continue;
                }
                last.insert(svc.name.clone(), now);
                svc.resolve().await;
            }
        }
    });
}

impl Running {
    /// Stops accepting, lets in-flight requests finish for up to `grace`, then returns.
    /// Returns false when the grace period ran out with requests still in flight.
    pub async fn shutdown(self, grace: Duration) -> bool {
        self.admin.ready.store(false, Ordering::Relaxed);
        let _ = self.shutdown.send(true);
        for t in self.accept_tasks {
            let _ = t.await;
        }
        // A parking set may hold it for a moment while handing a connection back.
        let mut graceful = self.graceful;
        tokio::time::timeout(grace, async move {
            let graceful = loop {
                match Arc::try_unwrap(graceful) {
                    Ok(g) => break g,
                    Err(still_shared) => graceful = still_shared,
                }
                tokio::time::sleep(Duration::from_millis(1)).await;
            };
            graceful.shutdown().await
        })
        .await
        .is_ok()
    }
}
