//! `weir controller`: the Kubernetes controller for Argo Rollouts' resources, with its
//! health and metrics endpoints (`/healthz`, `/readyz`, `/metrics` under Argo's controller
//! metric names: `weir_control::kubernetes::metrics`).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::anyhow;
use bytes::Bytes;
use http_body_util::Full;
use hyper::{Response, StatusCode};
use hyper_util::rt::TokioIo;
use weir_control::kubernetes::controller::{self, ControllerConfig};
use weir_control::kubernetes::fleet::AdminPort;
use weir_control::kubernetes::leader::LeaderSettings;
use weir_control::kubernetes::rollouts::Context;

#[derive(Clone, Debug, clap::Args)]
pub struct ControllerArgs {
    /// A kubeconfig file. Default: as kubectl finds the cluster (KUBECONFIG,
    /// ~/.kube/config, the in-cluster service account).
    #[arg(long, value_name = "FILE")]
    kubeconfig: Option<PathBuf>,
    /// Watch Rollouts in this namespace only. Default: all namespaces.
    #[arg(short, long)]
    namespace: Option<String>,
    /// Only Rollouts labelled argo-rollouts.argoproj.io/controller-instance-id=ID (Argo's
    /// --instance-id); without it, only Rollouts without the label.
    #[arg(long, value_name = "ID")]
    instance_id: Option<String>,
    /// Elect a leader among replicas on a Lease (`--leader-elect=false` to act alone).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    leader_elect: bool,
    /// The Lease's namespace. Default: $POD_NAMESPACE, else argo-rollouts.
    #[arg(long, value_name = "NS")]
    leader_election_namespace: Option<String>,
    /// The Lease's name. Argo Rollouts' own, so weir's and Argo's controllers never act on
    /// the same cluster at once: the second waits for the first's lease.
    #[arg(long, default_value = "argo-rollouts-controller-lock")]
    leader_election_lease: String,
    /// How long a lease holds after its last renewal (Argo's flag of the same name).
    #[arg(long, default_value = "15s", value_parser = parse_duration)]
    leader_election_lease_duration: Duration,
    /// A leader that has not renewed for this long stops acting.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    leader_election_renew_deadline: Duration,
    /// How often candidates try and leaders renew.
    #[arg(long, default_value = "2s", value_parser = parse_duration)]
    leader_election_retry_period: Duration,
    /// Where /metrics, /healthz and /readyz are served (read-only).
    #[arg(long, default_value = "0.0.0.0:8090")]
    metrics_address: SocketAddr,
    /// Once serving, write the metrics address here as JSON (for scripts and tests).
    #[arg(long, value_name = "FILE")]
    ready_file: Option<PathBuf>,
    /// The Service whose endpoints are the weir proxies' admin APIs (PORT: the Service
    /// port's name or a number; default the port named `admin`). The `weir` analysis
    /// provider reads every proxy's window there and merges them.
    #[arg(long, value_name = "NAMESPACE/NAME[:PORT]", value_parser = parse_proxy_service)]
    proxy_service: Option<(String, String, AdminPort)>,
    /// Where the web dashboard is served (the page at `/`), as `kubectl argo rollouts
    /// dashboard` serves Argo's; `off` (or empty) serves none. Default: 127.0.0.1:3100,
    /// reached with `kubectl port-forward`. An address other than loopback needs
    /// --dashboard-token-file.
    #[arg(long, value_name = "IP:PORT|off")]
    dashboard_address: Option<String>,
    /// A file holding the token the dashboard's actions (promote, abort, ...) need as
    /// `Authorization: Bearer <token>`; reading needs none.
    #[arg(long, value_name = "FILE")]
    dashboard_token_file: Option<PathBuf>,
}

/// Where the dashboard listens unless told: Argo's dashboard's port, on loopback.
const DEFAULT_DASHBOARD_ADDRESS: &str = "127.0.0.1:3100";

/// The dashboard's listener as the flags ask for it.
struct DashboardListener {
    address: SocketAddr,
    /// The flag named it (a busy port is then an error, not a warning).
    explicit: bool,
    token: Option<Arc<str>>,
}

/// The dashboard's address and token from the flags, `None` when it is off; refuses an
/// address other than loopback without a token, since its actions change Rollouts.
fn dashboard_listener(args: &ControllerArgs) -> anyhow::Result<Option<DashboardListener>> {
    let (text, explicit) = match args.dashboard_address.as_deref() {
        None => (DEFAULT_DASHBOARD_ADDRESS, false),
        Some(a) => (a.trim(), true),
    };
    if text.is_empty() || text.eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    let address: SocketAddr = text.parse().map_err(|_| {
        anyhow!("--dashboard-address {text:?}: expected IP:PORT (e.g. 127.0.0.1:3100), or off")
    })?;
    let token = match &args.dashboard_token_file {
        None => None,
        Some(path) => {
            let token = std::fs::read_to_string(path)
                .map_err(|e| anyhow!("--dashboard-token-file {}: {e}", path.display()))?;
            let token = token.trim();
            if token.is_empty() {
                return Err(anyhow!(
                    "--dashboard-token-file {}: the file is empty",
                    path.display()
                ));
            }
            Some(Arc::from(token))
        }
    };
    if !address.ip().is_loopback() && token.is_none() {
        return Err(anyhow!(
            "--dashboard-address {address} is not a loopback address: anyone who reaches it \
             could promote or abort Rollouts. Give --dashboard-token-file FILE (its actions \
             then need Authorization: Bearer <token>), or keep it on 127.0.0.1 and reach it \
             with kubectl port-forward"
        ));
    }
    Ok(Some(DashboardListener {
        address,
        explicit,
        token,
    }))
}

/// `NAMESPACE/NAME[:PORT]`, PORT a name or a number.
fn parse_proxy_service(s: &str) -> Result<(String, String, AdminPort), String> {
    let (ns, rest) = s
        .split_once('/')
        .ok_or_else(|| format!("{s:?}: expected NAMESPACE/NAME[:PORT]"))?;
    let (name, port) = match rest.split_once(':') {
        None => (rest, AdminPort::Named("admin".to_owned())),
        Some((name, port)) => (
            name,
            port.parse()
                .map_or_else(|_| AdminPort::Named(port.to_owned()), AdminPort::Number),
        ),
    };
    if ns.is_empty() || name.is_empty() {
        return Err(format!("{s:?}: expected NAMESPACE/NAME[:PORT]"));
    }
    Ok((ns.to_owned(), name.to_owned(), port))
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    weir_config::duration::parse(s).map(|d| d.get())
}

pub async fn run(args: ControllerArgs) -> anyhow::Result<()> {
    if args.leader_election_renew_deadline >= args.leader_election_lease_duration {
        return Err(anyhow!(
            "--leader-election-renew-deadline must be shorter than --leader-election-lease-duration, so a leader stops before another may start"
        ));
    }
    let identity = format!(
        "{}_{:08x}",
        std::env::var("POD_NAME")
            .or_else(|_| std::env::var("HOSTNAME"))
            .unwrap_or_else(|_| "weir".to_owned()),
        fastrand::u32(..)
    );
    let lease_ns = args
        .leader_election_namespace
        .clone()
        .or_else(|| std::env::var("POD_NAMESPACE").ok())
        .unwrap_or_else(|| "argo-rollouts".to_owned());
    let config = ControllerConfig {
        namespace: args.namespace.clone(),
        instance_id: args.instance_id.clone(),
        leader_election: args.leader_elect.then(|| LeaderSettings {
            lease_duration: args.leader_election_lease_duration,
            renew_deadline: args.leader_election_renew_deadline,
            retry_period: args.leader_election_retry_period,
            ..LeaderSettings::new(&lease_ns, &args.leader_election_lease, &identity)
        }),
        kubeconfig: args.kubeconfig.clone(),
        proxy_service: args.proxy_service.clone(),
    };
    let dashboard = dashboard_listener(&args)?;
    // Fails here, before serving, when no cluster can be found.
    controller::client(&config).await.map_err(|e| anyhow!(e))?;
    let listener = tokio::net::TcpListener::bind(args.metrics_address)
        .await
        .map_err(|e| anyhow!("--metrics-address {}: {e}", args.metrics_address))?;
    let bound = listener.local_addr()?;
    let dashboard = match dashboard {
        None => None,
        Some(d) => match tokio::net::TcpListener::bind(d.address).await {
            Ok(l) => Some((l, d.token)),
            Err(e) if d.explicit => {
                return Err(anyhow!("--dashboard-address {}: {e}", d.address));
            }
            // The default port taken (another controller, Argo's dashboard): run without.
            Err(e) => {
                tracing::warn!(
                    "no dashboard: {}: {e} (choose another with --dashboard-address, or off)",
                    d.address
                );
                None
            }
        },
    };
    let dashboard_bound = match &dashboard {
        Some((l, _)) => Some(l.local_addr()?),
        None => None,
    };
    let (ctx_tx, ctx_rx) = tokio::sync::oneshot::channel::<Arc<Context>>();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(controller::run(config, ctx_tx, async move {
        let _ = stop_rx.await;
    }));
    let ctx = ctx_rx
        .await
        .map_err(|_| anyhow!("the controller stopped before it started"))?;
    if let Some((page_listener, token)) = dashboard {
        let source = Arc::new(crate::dashboard_cluster::ClusterSource::new(
            ctx.clone(),
            args.namespace.clone(),
        ));
        let dashboard = weir_dashboard::Dashboard::start(source, "kubernetes", token.is_some());
        tokio::spawn(crate::dashboard_cluster::serve(
            page_listener,
            dashboard,
            token,
        ));
    }
    tokio::spawn(serve(listener, ctx));
    tracing::info!(metrics = %bound, dashboard = ?dashboard_bound, namespace = ?args.namespace, leader_elect = args.leader_elect, identity, "weir controller running");
    if let Some(f) = &args.ready_file {
        let body = serde_json::json!({
            "metrics": bound.to_string(),
            "dashboard": dashboard_bound.map(|a| a.to_string()),
        });
        std::fs::write(f, body.to_string())?;
    }
    crate::cli_proxy::wait_for_stop_signal().await;
    tracing::info!("stopping: releasing the lease");
    let _ = stop_tx.send(());
    match tokio::time::timeout(Duration::from_secs(10), running).await {
        Ok(Ok(result)) => result.map_err(|e| anyhow!(e)),
        _ => Ok(()),
    }
}

/// /healthz, /readyz (ready once acting: the leader, or without election), /metrics.
async fn serve(listener: tokio::net::TcpListener, ctx: Arc<Context>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let ctx = ctx.clone();
        tokio::spawn(async move {
            let svc = hyper::service::service_fn(move |req| {
                let ctx = ctx.clone();
                async move {
                    let (status, body) = match req.uri().path() {
                        "/healthz" => (StatusCode::OK, "ok\n".to_owned()),
                        "/readyz" if *ctx.leading.borrow() => (StatusCode::OK, "ok\n".to_owned()),
                        "/readyz" => (
                            StatusCode::SERVICE_UNAVAILABLE,
                            "not the leader\n".to_owned(),
                        ),
                        "/metrics" => (StatusCode::OK, metrics(&ctx)),
                        _ => (StatusCode::NOT_FOUND, "not found\n".to_owned()),
                    };
                    let mut resp = Response::new(Full::new(Bytes::from(body)));
                    *resp.status_mut() = status;
                    Ok::<_, std::convert::Infallible>(resp)
                }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), svc)
                .await;
        });
    }
}

/// Argo's controller metric names, so existing dashboards keep working.
fn metrics(ctx: &Context) -> String {
    ctx.metrics.render(*ctx.leading.borrow())
}
