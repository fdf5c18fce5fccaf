//! `weir controller`'s loop: the cluster found as kubectl finds it, leader election on a
//! Lease, and two kube-runtime controllers (one namespace or all): over Rollouts and the
//! ReplicaSets and AnalysisRuns they own, calling [`super::rollouts::reconcile`]; and over
//! every AnalysisRun, calling [`super::analysisruns::reconcile_run`].

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use k8s_openapi::api::apps::v1::ReplicaSet;
use kube::api::{Api, DynamicObject};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::watcher;
use kube::{Client, Config};

use super::analysisruns::{analysis_run_resource, reconcile_run, Runs};
use super::fleet::{AdminPort, ProxyFleet};
use super::leader::{lead, Elector, LeaderSettings};
use super::rollouts::{reconcile, rollout_resource, Context, ReconcileError};
use crate::providers::HttpClient;

/// How `weir controller` was started.
#[derive(Clone, Debug, Default)]
pub struct ControllerConfig {
    /// Watch this namespace only; `None`: all namespaces.
    pub namespace: Option<String>,
    /// Argo's instance id: only Rollouts labelled with it.
    pub instance_id: Option<String>,
    /// Lease-based leader election; `None`: this replica always acts.
    pub leader_election: Option<LeaderSettings>,
    /// A kubeconfig file; `None`: as kubectl finds the cluster (`KUBECONFIG`,
    /// `~/.kube/config`, the in-cluster service account).
    pub kubeconfig: Option<PathBuf>,
    /// The Service whose endpoints are the weir proxies' admin APIs, for the built-in
    /// analysis provider: (namespace, name, port).
    pub proxy_service: Option<(String, String, AdminPort)>,
}

/// A client for the cluster `config` names.
pub async fn client(config: &ControllerConfig) -> Result<Client, String> {
    let kube_config = match &config.kubeconfig {
        Some(path) => {
            let kc = Kubeconfig::read_from(path).map_err(|e| format!("{}: {e}", path.display()))?;
            Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
                .await
                .map_err(|e| format!("{}: {e}", path.display()))?
        }
        None => Config::infer()
            .await
            .map_err(|e| format!("cannot find the cluster (KUBECONFIG, ~/.kube/config or the in-cluster service account): {e}"))?,
    };
    Client::try_from(kube_config).map_err(|e| e.to_string())
}

fn error_policy(_object: Arc<DynamicObject>, error: &ReconcileError, _ctx: Arc<Context>) -> Action {
    tracing::warn!("reconcile failed, retrying in 5s: {error}");
    Action::requeue(Duration::from_secs(5))
}

/// Runs the controller until `stop` resolves. `ready` is told once the watches run.
pub async fn run(
    config: ControllerConfig,
    ctx_out: tokio::sync::oneshot::Sender<Arc<Context>>,
    stop: impl Future<Output = ()> + Send + 'static,
) -> Result<(), String> {
    let client = client(&config).await?;
    let stop = futures_util::future::FutureExt::shared(Box::pin(stop));
    let (tx, rx) = tokio::sync::watch::channel(config.leader_election.is_none());
    if let Some(settings) = config.leader_election.clone() {
        let elector = Elector::new(client.clone(), settings);
        tokio::spawn(lead(elector, tx, stop.clone()));
    }
    let ctx = Arc::new(Context {
        client: client.clone(),
        instance_id: config.instance_id.clone(),
        leading: rx,
        phases: Default::default(),
        runs: Runs::new(
            HttpClient::new(),
            config.proxy_service.clone().map(|(ns, name, port)| {
                ProxyFleet::new(client.clone(), ns, name, port, HttpClient::new())
            }),
        ),
    });
    let _ = ctx_out.send(ctx.clone());
    let ar = rollout_resource();
    let run_resource = analysis_run_resource();
    let api = |r: &kube::core::ApiResource| -> Api<DynamicObject> {
        match &config.namespace {
            Some(ns) => Api::namespaced_with(client.clone(), ns, r),
            None => Api::all_with(client.clone(), r),
        }
    };
    let replica_sets: Api<ReplicaSet> = match &config.namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    };
    // Rollouts, woken by their ReplicaSets and AnalysisRuns; and every AnalysisRun.
    let rollouts = Controller::new_with(api(&ar), watcher::Config::default(), ar.clone())
        .owns(replica_sets, watcher::Config::default())
        .owns_with(
            api(&run_resource),
            run_resource.clone(),
            watcher::Config::default(),
        )
        .graceful_shutdown_on(stop.clone())
        .run(reconcile, error_policy, ctx.clone())
        .for_each(|result| async move {
            if let Err(e) = result {
                tracing::debug!("controller: {e}");
            }
        });
    let runs = Controller::new_with(
        api(&run_resource),
        watcher::Config::default(),
        run_resource.clone(),
    )
    .graceful_shutdown_on(stop)
    .run(reconcile_run, error_policy, ctx)
    .for_each(|result| async move {
        if let Err(e) = result {
            tracing::debug!("analysis run controller: {e}");
        }
    });
    futures_util::future::join(rollouts, runs).await;
    Ok(())
}
