//! `weir proxy -c FILE`: the proxy alone, with hot reload and graceful shutdown.

use anyhow::{anyhow, Context};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use weir_config::ProxyConfig;
use weir_proxy::reload::{self, Loader};

/// Reads and validates a proxy configuration file.
pub fn load(path: &Path) -> Result<ProxyConfig, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    weir_config::parse_proxy_config(&path.display().to_string(), &text, 1)
        .map_err(|e| e.to_string())
}

pub fn base_dir(path: &Path) -> PathBuf {
    path.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// `--kubernetes`: routes from the cluster too.
pub struct Kubernetes {
    pub class: String,
    pub kubeconfig: Option<PathBuf>,
    /// `--publish-service NAMESPACE/NAME`.
    pub publish_service: Option<String>,
    /// `--publish-status-address`.
    pub publish_status_address: Vec<String>,
}

pub async fn run(
    path: PathBuf,
    ready_file: Option<PathBuf>,
    kubernetes: Option<Kubernetes>,
) -> anyhow::Result<()> {
    let config = load(&path).map_err(|e| anyhow!("configuration refused:\n{e}"))?;
    if config.listeners.is_empty() {
        return Err(anyhow!(
            "{}: listeners: at least one listener is needed",
            path.display()
        ));
    }
    let grace = config.shutdown_grace_period.get();
    let churn = match std::env::var("WEIR_BENCH_CHURN") {
        Ok(spec) => Some(crate::bench_churn::parse(&spec).map_err(|e| anyhow!(e))?),
        Err(_) => None,
    };
    let running = weir_proxy::run::start(config, &base_dir(&path))
        .await
        .map_err(|e| anyhow!("{}: {e}", path.display()))?;
    // SIGHUP is taken before the ready file says weir is up: a SIGHUP's default action
    // ends the process, and a supervisor may send one as soon as it sees the file.
    let hangups = reload::Hangups::register();
    if let Some(f) = ready_file {
        write_ready_file(&f, &running.listeners, running.admin_address)?;
    }
    let part = weir_ingress::watch::new_part();
    // The file's configuration, with the cluster's routes merged in when there are any.
    let loader: Loader = {
        let part = part.clone();
        Arc::new(move |p: &Path| {
            let base = load(p)?;
            let cluster = part.lock().clone();
            if cluster.as_object().is_none_or(|o| o.is_empty()) {
                return Ok(base);
            }
            weir_ingress::ingress::merge(&base, &cluster)
        })
    };
    if let Some(k) = kubernetes {
        let client = weir_control::kubernetes::controller::client(
            &weir_control::kubernetes::controller::ControllerConfig {
                kubeconfig: k.kubeconfig,
                ..Default::default()
            },
        )
        .await
        .map_err(|e| anyhow!(e))?;
        let (proxy, file, loader) = (running.proxy.clone(), path.clone(), loader.clone());
        let reload_now: Arc<dyn Fn() -> Result<u64, String> + Send + Sync> =
            Arc::new(move || reload::reload_now(&proxy, &file, &loader));
        let publish = match (&k.publish_service, k.publish_status_address.is_empty()) {
            (Some(svc), _) => {
                let (ns, name) = svc
                    .split_once('/')
                    .ok_or_else(|| anyhow!("--publish-service {svc}: expected NAMESPACE/NAME"))?;
                weir_ingress::watch::Publish::Service(ns.to_owned(), name.to_owned())
            }
            (None, false) => weir_ingress::watch::Publish::Addresses(k.publish_status_address),
            (None, true) => weir_ingress::watch::Publish::Nothing,
        };
        tracing::info!(class = %k.class, "taking routes from the cluster's Ingresses");
        tokio::spawn(weir_ingress::watch::run(
            client,
            weir_ingress::ingress::ClassOptions { class: k.class },
            publish,
            part,
            running.proxy.clone(),
            reload_now,
        ));
    }
    reload::watch(
        running.proxy.clone(),
        path,
        loader,
        Duration::from_secs(1),
        hangups,
    );
    let churn = churn.map(|spec| {
        tracing::warn!(route = %spec.route, per_second = spec.per_second, "bench churn: changing weights in process (WEIR_BENCH_CHURN)");
        crate::bench_churn::start(running.proxy.clone(), spec)
    });
    wait_for_stop_signal().await;
    if let Some(c) = churn {
        use std::sync::atomic::Ordering::Relaxed;
        tracing::info!(
            changes = c.changes.load(Relaxed),
            errors = c.errors.load(Relaxed),
            "bench churn stopped"
        );
    }
    tracing::info!(grace = ?grace, "shutting down: no new connections, finishing in-flight requests");
    if running.shutdown(grace).await {
        tracing::info!("all requests finished");
    } else {
        tracing::warn!("grace period over with requests still in flight");
    }
    Ok(())
}

pub fn write_ready_file(
    path: &Path,
    listeners: &[std::net::SocketAddr],
    admin: std::net::SocketAddr,
) -> anyhow::Result<()> {
    let body = serde_json::json!({
        "listeners": listeners.iter().map(|a| a.to_string()).collect::<Vec<_>>(),
        "admin": admin.to_string(),
    });
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, body.to_string()).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

pub async fn wait_for_stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = match signal(SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => return std::future::pending().await,
        };
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
