//! `weir controller`'s loop: the cluster found as kubectl finds it, leader election on a
//! Lease, and three kube-runtime controllers (one namespace or all): over Rollouts and the
//! ReplicaSets, AnalysisRuns and Experiments they own, calling
//! [`super::rollouts::reconcile`]; over every AnalysisRun, calling
//! [`super::analysisruns::reconcile_run`]; and over every Experiment, calling
//! [`super::experiments::reconcile_experiment`].

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use k8s_openapi::api::apps::v1::ReplicaSet;
use kube::api::{Api, DynamicObject};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;
use kube::{Client, Config};

use super::analysisruns::{analysis_run_resource, reconcile_run, Runs};
use super::experiments::reconcile_experiment;
use super::fleet::{AdminPort, ProxyFleet};
use super::leader::{lead, Elector, LeaderSettings};
use super::metrics::{Kind as MetricKind, Metrics};
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
    // Every request counted for `controller_clientset_k8s_request_total`, as Argo's
    // transport wrapper counts them.
    Ok(kube::client::ClientBuilder::try_from(kube_config)
        .map_err(|e| e.to_string())?
        .with_layer(&super::client_metrics::CountRequests)
        .build())
}

/// Failed reconciles in a row, per object (kind, namespace, name), and the delay before the
/// next try: 1 ms doubling to 10 s, forgotten on the first success: Argo's controller's
/// workqueue rate limiter (`DefaultArgoRolloutsRateLimiter`). A conflict or a lost answer
/// is retried at once; a server that keeps failing is asked every 10 s.
#[derive(Debug, Default)]
pub struct Backoff {
    failures: parking_lot::Mutex<std::collections::HashMap<(&'static str, String, String), u32>>,
}

impl Backoff {
    pub const FIRST: Duration = Duration::from_millis(1);
    pub const MAX: Duration = Duration::from_secs(10);

    /// Counts a failure of `key`; the delay before trying it again.
    pub fn failed(&self, key: (&'static str, String, String)) -> Duration {
        let mut failures = self.failures.lock();
        let n = failures.entry(key).or_insert(0);
        *n = n.saturating_add(1);
        Self::FIRST
            .saturating_mul(2u32.saturating_pow(*n - 1))
            .min(Self::MAX)
    }

    /// `key` reconciled: its next failure starts from the first delay.
    pub fn succeeded(&self, key: &(&'static str, String, String)) {
        self.failures.lock().remove(key);
    }
}

fn key(kind: &'static str, object: &DynamicObject) -> (&'static str, String, String) {
    (
        kind,
        object.metadata.namespace.clone().unwrap_or_default(),
        object.metadata.name.clone().unwrap_or_default(),
    )
}

fn error_policy(
    kind: &'static str,
    object: &DynamicObject,
    error: &ReconcileError,
    ctx: &Context,
) -> Action {
    let delay = ctx.failures.failed(key(kind, object));
    match error {
        ReconcileError::Conflict(_) => tracing::debug!("{error}; again in {delay:?}"),
        _ => tracing::warn!("reconcile failed, retrying in {delay:?}: {error}"),
    }
    Action::requeue(delay)
}

/// `reconcile` for objects of `kind`: timed and counted for /metrics, and its backoff
/// forgotten when it succeeds.
async fn reconciled<F, Fut>(
    kind: &'static str,
    object: Arc<DynamicObject>,
    ctx: Arc<Context>,
    reconcile: F,
) -> Result<Action, ReconcileError>
where
    F: FnOnce(Arc<DynamicObject>, Arc<Context>) -> Fut,
    Fut: Future<Output = Result<Action, ReconcileError>>,
{
    let key = key(kind, &object);
    let started = std::time::Instant::now();
    let result = reconcile(object, ctx.clone()).await;
    if !*ctx.leading.borrow() {
        return result; // a follower's pass does nothing worth timing
    }
    tracing::debug!(
        kind,
        ok = result.is_ok(),
        took = ?started.elapsed(),
        next = ?result.as_ref().ok(),
        "reconciled"
    );
    let metric_kind = match kind {
        "AnalysisRun" => MetricKind::AnalysisRun,
        "Experiment" => MetricKind::Experiment,
        _ => MetricKind::Rollout,
    };
    // A conflict is retried at once and is no error in Argo's count either (its reconcile
    // returns the conflict error too, so it is counted: do the same).
    ctx.metrics.reconciled(
        metric_kind,
        &key.1,
        &key.2,
        started.elapsed(),
        result.is_ok(),
    );
    if result.is_ok() {
        ctx.failures.succeeded(&key);
    }
    result
}

/// The backoff of a controller's watches. kube-runtime applies one backoff to all of a
/// controller's watches together, and while it waits no change reaches the controller.
/// Its default (0.8 s doubling to 30 s) meant that one etcd compaction, which fails every
/// watch once with 410 Gone (each then relists), stalled the Rollouts' controller for
/// 30 s and more: a paused Rollout missed a promote that long. 100 ms doubling to 1 s,
/// forgotten after 10 s without an error, still paces a server that keeps failing.
fn trigger_backoff() -> kube::runtime::utils::ResetTimerBackoff<Doubling> {
    kube::runtime::utils::ResetTimerBackoff::new(
        Doubling::new(Duration::from_millis(100), Duration::from_secs(1)),
        Duration::from_secs(10),
    )
}

/// A delay that doubles from `min` to `max` (kube-runtime's exponential one is not public).
pub struct Doubling {
    min: Duration,
    max: Duration,
    next: Duration,
}

impl Doubling {
    pub fn new(min: Duration, max: Duration) -> Doubling {
        Doubling {
            min,
            max,
            next: min,
        }
    }
}

impl Iterator for Doubling {
    type Item = Duration;
    fn next(&mut self) -> Option<Duration> {
        let now = self.next;
        self.next = (self.next * 2).min(self.max);
        Some(now)
    }
}

impl kube::runtime::utils::Backoff for Doubling {
    fn reset(&mut self) {
        self.next = self.min;
    }
}

/// Whether a Rollout's strategy names template `name` anywhere (step, background,
/// pre- or post-promotion analysis, experiment analyses).
fn names_template(strategy: &serde_json::Value, name: &str) -> bool {
    match strategy {
        serde_json::Value::Object(m) => m.iter().any(|(k, v)| {
            (k == "templateName" && v.as_str() == Some(name)) || names_template(v, name)
        }),
        serde_json::Value::Array(items) => items.iter().any(|v| names_template(v, name)),
        _ => false,
    }
}

/// Waits until the API server serves every kind the controller watches, saying which it
/// does not serve yet.
async fn wait_for_crds(client: &Client, namespace: Option<&str>) {
    let kinds = [
        (rollout_resource(), true),
        (analysis_run_resource(), true),
        (super::experiments::experiment_resource(), true),
        (
            super::analysisruns::resource("AnalysisTemplate", "analysistemplates"),
            true,
        ),
        (
            super::analysisruns::resource("ClusterAnalysisTemplate", "clusteranalysistemplates"),
            false,
        ),
    ];
    let mut said = false;
    loop {
        let mut missing = Vec::new();
        for (r, namespaced) in &kinds {
            let api: Api<DynamicObject> = match (namespaced, namespace) {
                (true, Some(ns)) => Api::namespaced_with(client.clone(), ns, r),
                _ => Api::all_with(client.clone(), r),
            };
            match api.list(&kube::api::ListParams::default().limit(1)).await {
                Err(kube::Error::Api(e)) if e.code == 404 => {
                    missing.push(format!("{}.{}", r.plural, r.group));
                }
                // Anything else (served, forbidden, unreachable) is the watches' to report.
                _ => {}
            }
        }
        if missing.is_empty() {
            if said {
                tracing::info!("the CRDs are served; starting the watches");
            }
            return;
        }
        if !said {
            tracing::warn!(
                missing = %missing.join(", "),
                "waiting for Argo Rollouts' CRDs (`weir crds | kubectl apply --server-side -f -`)"
            );
            said = true;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
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
        metrics: Metrics::new(),
        failures: Backoff::default(),
        runs: Runs::new(
            HttpClient::new(),
            config.proxy_service.clone().map(|(ns, name, port)| {
                ProxyFleet::new(client.clone(), ns, name, port, HttpClient::new())
            }),
        ),
    });
    let _ = ctx_out.send(ctx.clone());
    // The watches start once Argo's CRDs are served: a watch on a resource the server does
    // not know yet fails and backs off (kube-runtime's backoff grows to tens of seconds),
    // which would keep a controller started just before its CRDs idle for that long.
    tokio::select! {
        () = wait_for_crds(&client, config.namespace.as_deref()) => {}
        () = stop.clone() => return Ok(()),
    }
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
        .owns(replica_sets.clone(), watcher::Config::default())
        .owns_with(
            api(&super::experiments::experiment_resource()),
            super::experiments::experiment_resource(),
            watcher::Config::default(),
        )
        .owns_with(
            api(&run_resource),
            run_resource.clone(),
            watcher::Config::default(),
        );
    // A template appearing or changing wakes the Rollouts that name it (an InvalidSpec for
    // a missing template clears then; Argo's controller watches templates the same way).
    let template = super::analysisruns::resource("AnalysisTemplate", "analysistemplates");
    let cluster_template =
        super::analysisruns::resource("ClusterAnalysisTemplate", "clusteranalysistemplates");
    let naming = |store: kube::runtime::reflector::Store<DynamicObject>, cluster: bool| {
        let ar = ar.clone();
        move |t: DynamicObject| -> Vec<ObjectRef<DynamicObject>> {
            let name = t.metadata.name.clone().unwrap_or_default();
            let ns = t.metadata.namespace.clone();
            store
                .state()
                .iter()
                .filter(|r| cluster || r.metadata.namespace == ns)
                .filter(|r| names_template(&r.data["spec"]["strategy"], &name))
                .map(|r| ObjectRef::from_obj_with(r.as_ref(), ar.clone()))
                .collect()
        }
    };
    let store = rollouts.store();
    let rollouts = rollouts
        .watches_with(
            api(&template),
            template.clone(),
            watcher::Config::default(),
            naming(store.clone(), false),
        )
        .watches_with(
            Api::all_with(client.clone(), &cluster_template),
            cluster_template.clone(),
            watcher::Config::default(),
            naming(store, true),
        );
    let runs = Controller::new_with(
        api(&run_resource),
        watcher::Config::default(),
        run_resource.clone(),
    );
    // Every Experiment, woken by its ReplicaSets, Services and AnalysisRuns.
    let experiment_resource = super::experiments::experiment_resource();
    let services: Api<k8s_openapi::api::core::v1::Service> = match &config.namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    };
    let experiments = Controller::new_with(
        api(&experiment_resource),
        watcher::Config::default(),
        experiment_resource.clone(),
    )
    .owns(replica_sets.clone(), watcher::Config::default())
    .owns(services, watcher::Config::default())
    .owns_with(
        api(&run_resource),
        run_resource.clone(),
        watcher::Config::default(),
    );
    let experiment_store = experiments.store();
    let experiments = experiments
        .trigger_backoff(trigger_backoff())
        .graceful_shutdown_on(stop.clone())
        .run(
            |o, c| reconciled("Experiment", o, c, reconcile_experiment),
            |o, e, c| error_policy("Experiment", &o, e, &c),
            ctx.clone(),
        )
        .for_each(|result| async move {
            if let Err(e) = result {
                tracing::debug!("experiment controller: {e}");
            }
        });
    // /metrics reads the Rollouts, AnalysisRuns and Experiments from these caches, as
    // Argo's collectors read its listers.
    ctx.metrics
        .set_stores(rollouts.store(), runs.store(), experiment_store);
    // The templates, for `analysis_template_info`: caches of their own (the Rollouts'
    // controller watches them only to wake the Rollouts naming them).
    let template_cache = |api: Api<DynamicObject>, resource: &kube::core::ApiResource| {
        use kube::runtime::WatchStreamExt;
        let writer = kube::runtime::reflector::store::Writer::new(resource.clone());
        let reader = writer.as_reader();
        let stream = kube::runtime::reflector(writer, watcher(api, watcher::Config::default()))
            .default_backoff()
            .for_each(|_| async {});
        tokio::spawn(stream);
        reader
    };
    ctx.metrics.set_template_stores(
        template_cache(api(&template), &template),
        template_cache(
            Api::all_with(client.clone(), &cluster_template),
            &cluster_template,
        ),
    );
    let rollouts = rollouts
        .trigger_backoff(trigger_backoff())
        .graceful_shutdown_on(stop.clone())
        .run(
            |o, c| reconciled("Rollout", o, c, reconcile),
            |o, e, c| error_policy("Rollout", &o, e, &c),
            ctx.clone(),
        )
        .for_each(|result| async move {
            if let Err(e) = result {
                tracing::debug!("controller: {e}");
            }
        });
    let runs = runs
        .trigger_backoff(trigger_backoff())
        .graceful_shutdown_on(stop)
        .run(
            |o, c| reconciled("AnalysisRun", o, c, reconcile_run),
            |o, e, c| error_policy("AnalysisRun", &o, e, &c),
            ctx,
        )
        .for_each(|result| async move {
            if let Err(e) = result {
                tracing::debug!("analysis run controller: {e}");
            }
        });
    futures_util::future::join3(rollouts, runs, experiments).await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{names_template, Backoff};
    use std::time::Duration;

    #[test]
    fn a_template_is_named_wherever_argo_takes_one() {
        let strategy = serde_json::json!({"canary": {
            "analysis": {"templates": [{"templateName": "background"}]},
            "steps": [{"experiment": {"analyses": [{"name": "a", "templateName": "in-experiment"}]}},
                      {"analysis": {"templates": [{"templateName": "step", "clusterScope": true}]}}],
        }});
        for name in ["background", "in-experiment", "step"] {
            assert!(names_template(&strategy, name), "{name}");
        }
        assert!(!names_template(&strategy, "other"));
        assert!(!names_template(
            &serde_json::json!({"blueGreen": {}}),
            "step"
        ));
    }

    #[test]
    fn the_watches_backoff_doubles_to_a_second_and_resets() {
        use kube::runtime::utils::Backoff as _;
        let mut b = super::Doubling::new(Duration::from_millis(100), Duration::from_secs(1));
        let delays: Vec<u128> = (0..6).map(|_| b.next().unwrap().as_millis()).collect();
        assert_eq!(delays, [100, 200, 400, 800, 1000, 1000]);
        b.reset();
        assert_eq!(b.next(), Some(Duration::from_millis(100)));
    }

    #[test]
    fn backoff_doubles_per_object_to_its_cap_and_a_success_resets_it() {
        let b = Backoff::default();
        let web = || ("Rollout", "default".to_owned(), "web".to_owned());
        let api = ("Rollout", "default".to_owned(), "api".to_owned());
        let delays: Vec<Duration> = (0..4).map(|_| b.failed(web())).collect();
        assert_eq!(delays, [1, 2, 4, 8].map(Duration::from_millis).to_vec());
        assert_eq!(b.failed(api.clone()), Backoff::FIRST, "per object");
        for _ in 0..40 {
            b.failed(web());
        }
        assert_eq!(b.failed(web()), Backoff::MAX);
        b.succeeded(&web());
        assert_eq!(b.failed(web()), Backoff::FIRST);
        assert_eq!(b.failed(api), Duration::from_millis(2));
    }
}
