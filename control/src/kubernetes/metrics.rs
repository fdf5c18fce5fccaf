//! `weir controller`'s `/metrics`, under Argo's controller metric names and labels, so the
//! dashboards and alerts built on Argo's controller keep working (Argo's own Grafana
//! dashboard, `examples/dashboard.json`, reads `rollout_info`, `rollout_info_replicas_*`,
//! `rollout_reconcile` and `process_start_time_seconds`).
//!
//! - Read at scrape time from the controllers' caches, as Argo's collectors read its
//!   listers: `rollout_info` (with Argo's *calculated* phase: Completed, Progressing,
//!   Paused, Timeout, Error, Abort, InvalidSpec, from the conditions), `rollout_info_replicas_
//!   {available,unavailable,desired,updated}`, `rollout_phase` (deprecated by Argo, still
//!   served), `analysis_run_info`, `analysis_run_phase`, `analysis_run_metric_type`,
//!   `analysis_run_metric_phase`.
//! - Counted as it happens: `rollout_reconcile` and `analysis_run_reconcile` (histograms in
//!   seconds, Argo's buckets), `rollout_reconcile_error`, `analysis_run_reconcile_error`,
//!   `rollout_events_total`.
//! - `argo_rollouts_controller_info{version}` (weir's version), the process metrics of
//!   Prometheus' Go client (`process_start_time_seconds`, CPU, memory, file descriptors), and
//!   weir's own `weir_controller_leader`.
//!
//! The `prometheus` crate is the Rust port of the Go client Argo uses: counters keep the
//! names they are given (Argo's `rollout_reconcile_error` has no `_total`), and the text is
//! the same exposition format.

use std::sync::{LazyLock, OnceLock};
use std::time::Duration;

use kube::api::DynamicObject;
use kube::runtime::reflector::Store;
use prometheus::{
    Encoder, GaugeVec, HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry, TextEncoder,
};
use serde_json::Value;

/// Argo's buckets for reconcile durations, in seconds.
const RECONCILE_BUCKETS: [f64; 5] = [0.01, 0.15, 0.25, 0.5, 1.0];

/// Events recorded on Rollouts, by type and reason (`record_event` counts here).
static EVENTS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    IntCounterVec::new(
        Opts::new("rollout_events_total", "Count of rollout events"),
        &["namespace", "name", "type", "reason"],
    )
    .expect("a valid metric")
});

/// Counts an event on Rollout `namespace/name`.
pub fn count_event(namespace: &str, name: &str, warning: bool, reason: &str) {
    let kind = if warning { "Warning" } else { "Normal" };
    EVENTS
        .with_label_values(&[namespace, name, kind, reason])
        .inc();
}

/// The controller's metrics: the counters, and the caches read at scrape time.
pub struct Metrics {
    registry: Registry,
    rollout_reconcile: HistogramVec,
    rollout_reconcile_error: IntCounterVec,
    run_reconcile: HistogramVec,
    run_reconcile_error: IntCounterVec,
    experiment_reconcile: HistogramVec,
    experiment_reconcile_error: IntCounterVec,
    /// The Rollouts', AnalysisRuns' and Experiments' caches, once the controllers run.
    stores: OnceLock<(
        Store<DynamicObject>,
        Store<DynamicObject>,
        Store<DynamicObject>,
    )>,
    /// The AnalysisTemplates' and ClusterAnalysisTemplates' caches, for
    /// `analysis_template_info`.
    templates: OnceLock<(Store<DynamicObject>, Store<DynamicObject>)>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

/// Which objects a reconcile was of.
#[derive(Clone, Copy, Debug)]
pub enum Kind {
    Rollout,
    AnalysisRun,
    Experiment,
}

impl Metrics {
    pub fn new() -> Metrics {
        let histogram = |name: &str, help: &str| {
            HistogramVec::new(
                HistogramOpts::new(name, help).buckets(RECONCILE_BUCKETS.to_vec()),
                &["namespace", "name"],
            )
            .expect("a valid metric")
        };
        let counter = |name: &str, help: &str| {
            IntCounterVec::new(Opts::new(name, help), &["namespace", "name"])
                .expect("a valid metric")
        };
        let m = Metrics {
            registry: Registry::new(),
            rollout_reconcile: histogram(
                "rollout_reconcile",
                "Rollout reconciliation performance.",
            ),
            rollout_reconcile_error: counter(
                "rollout_reconcile_error",
                "Error occurring during the rollout",
            ),
            run_reconcile: histogram(
                "analysis_run_reconcile",
                "Analysis Run reconciliation performance.",
            ),
            run_reconcile_error: counter(
                "analysis_run_reconcile_error",
                "Error occurring during the analysis run",
            ),
            experiment_reconcile: histogram(
                "experiment_reconcile",
                "Experiments reconciliation performance.",
            ),
            experiment_reconcile_error: counter(
                "experiment_reconcile_error",
                "Error occurring during the experiment",
            ),
            stores: OnceLock::new(),
            templates: OnceLock::new(),
        };
        for c in [
            Box::new(m.rollout_reconcile.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(m.rollout_reconcile_error.clone()),
            Box::new(m.run_reconcile.clone()),
            Box::new(m.run_reconcile_error.clone()),
            Box::new(m.experiment_reconcile.clone()),
            Box::new(m.experiment_reconcile_error.clone()),
            Box::new(EVENTS.clone()),
            Box::new(super::client_metrics::K8S_REQUESTS.clone()),
        ] {
            // Registering twice (a second Metrics in one process) only fails the second
            // registry, which keeps its own copies.
            let _ = m.registry.register(c);
        }
        #[cfg(target_os = "linux")]
        let _ = m.registry.register(Box::new(
            prometheus::process_collector::ProcessCollector::for_self(),
        ));
        m
    }

    /// The caches the scrape reads: the Rollouts' and the AnalysisRuns'.
    pub fn set_stores(
        &self,
        rollouts: Store<DynamicObject>,
        runs: Store<DynamicObject>,
        experiments: Store<DynamicObject>,
    ) {
        let _ = self.stores.set((rollouts, runs, experiments));
    }

    /// The Rollouts', AnalysisRuns' and Experiments' caches (every one in the namespaces
    /// the controller watches), `None` until its watches start; `weir controller`'s
    /// dashboard reads them too, so that it adds no calls to the API server.
    pub fn stores(
        &self,
    ) -> Option<&(
        Store<DynamicObject>,
        Store<DynamicObject>,
        Store<DynamicObject>,
    )> {
        self.stores.get()
    }

    /// The template caches the scrape reads (namespaced, cluster-scoped).
    pub fn set_template_stores(
        &self,
        namespaced: Store<DynamicObject>,
        cluster: Store<DynamicObject>,
    ) {
        let _ = self.templates.set((namespaced, cluster));
    }

    /// A reconcile of `namespace/name` took `took`, and failed or not.
    pub fn reconciled(&self, kind: Kind, namespace: &str, name: &str, took: Duration, ok: bool) {
        let (histogram, errors) = match kind {
            Kind::Rollout => (&self.rollout_reconcile, &self.rollout_reconcile_error),
            Kind::AnalysisRun => (&self.run_reconcile, &self.run_reconcile_error),
            Kind::Experiment => (&self.experiment_reconcile, &self.experiment_reconcile_error),
        };
        histogram
            .with_label_values(&[namespace, name])
            .observe(took.as_secs_f64());
        if !ok {
            errors.with_label_values(&[namespace, name]).inc();
        }
    }

    /// The exposition text: the counters, then what the caches hold now.
    pub fn render(&self, leading: bool) -> String {
        let mut families = self.registry.gather();
        let objects = |store: &Store<DynamicObject>| -> Vec<Value> {
            store
                .state()
                .iter()
                .filter_map(|o| serde_json::to_value(o.as_ref()).ok())
                .collect()
        };
        let (rollouts, runs, experiments) = match self.stores.get() {
            Some((r, a, e)) => (objects(r), objects(a), objects(e)),
            None => Default::default(),
        };
        families.extend(cache_families(&rollouts, &runs, &experiments, leading));
        let templates: Vec<Value> = match self.templates.get() {
            Some((n, c)) => objects(n).into_iter().chain(objects(c)).collect(),
            None => Vec::new(),
        };
        families.extend(template_families(&templates));
        families.sort_by(|a, b| a.name().cmp(b.name()));
        let mut out = Vec::new();
        let _ = TextEncoder::new().encode(&families, &mut out);
        String::from_utf8(out).unwrap_or_default()
    }
}

/// The gauges Argo's collectors compute from the listers, over `rollouts`, `runs` and
/// `experiments` as JSON.
fn cache_families(
    rollouts: &[Value],
    runs: &[Value],
    experiments: &[Value],
    leading: bool,
) -> Vec<prometheus::proto::MetricFamily> {
    let gauge = |name: &str, help: &str, labels: &[&str]| {
        GaugeVec::new(Opts::new(name, help), labels).expect("a valid metric")
    };
    let nn = ["namespace", "name"];
    let info = gauge(
        "rollout_info",
        "Information about rollout.",
        &["namespace", "name", "strategy", "traffic_router", "phase"],
    );
    let available = gauge(
        "rollout_info_replicas_available",
        "The number of available replicas per rollout.",
        &nn,
    );
    let unavailable = gauge(
        "rollout_info_replicas_unavailable",
        "The number of unavailable replicas per rollout.",
        &nn,
    );
    let desired = gauge(
        "rollout_info_replicas_desired",
        "The number of desired replicas per rollout.",
        &nn,
    );
    let updated = gauge(
        "rollout_info_replicas_updated",
        "The number of updated replicas per rollout.",
        &nn,
    );
    let phase = gauge(
        "rollout_phase",
        "Information on the state of the rollout (DEPRECATED - use rollout_info)",
        &["namespace", "name", "strategy", "phase"],
    );
    for r in rollouts {
        let (ns, name) = names(r);
        let (strategy, router) = strategy_and_router(r);
        let calculated = rollout_phase(r);
        info.with_label_values(&[ns, name, strategy, router, calculated])
            .set(1.0);
        let status = &r["status"];
        let count = |field: &str| status[field].as_f64().unwrap_or(0.0);
        available
            .with_label_values(&[ns, name])
            .set(count("availableReplicas"));
        unavailable
            .with_label_values(&[ns, name])
            .set(count("replicas") - count("availableReplicas"));
        desired
            .with_label_values(&[ns, name])
            .set(r["spec"]["replicas"].as_f64().unwrap_or(1.0));
        updated
            .with_label_values(&[ns, name])
            .set(count("updatedReplicas"));
        for p in [
            "Completed",
            "Progressing",
            "Paused",
            "Timeout",
            "Error",
            "Abort",
        ] {
            phase
                .with_label_values(&[ns, name, strategy, p])
                .set(f64::from(u8::from(calculated == p)));
        }
    }

    let run_info = gauge(
        "analysis_run_info",
        "Information about analysis run.",
        &["namespace", "name", "phase"],
    );
    let run_phase = gauge(
        "analysis_run_phase",
        "Information on the state of the Analysis Run (DEPRECATED - use analysis_run_info)",
        &["namespace", "name", "phase"],
    );
    let metric_type = gauge(
        "analysis_run_metric_type",
        "Information on the type of a specific metric in the Analysis Runs",
        &["namespace", "name", "metric", "type"],
    );
    let metric_phase = gauge(
        "analysis_run_metric_phase",
        "Information on the duration of a specific metric in the Analysis Run",
        &["namespace", "name", "metric", "type", "dry_run", "phase"],
    );
    const RUN_PHASES: [&str; 6] = [
        "Pending",
        "Error",
        "Failed",
        "Successful",
        "Running",
        "Inconclusive",
    ];
    let is = |phase: &str, p: &str| {
        f64::from(u8::from(phase == p || (p == "Pending" && phase.is_empty())))
    };
    for run in runs {
        let (ns, name) = names(run);
        let phase = run["status"]["phase"].as_str().unwrap_or_default();
        run_info.with_label_values(&[ns, name, phase]).set(1.0);
        for p in RUN_PHASES {
            run_phase
                .with_label_values(&[ns, name, p])
                .set(is(phase, p));
        }
        let dry: Vec<&str> = run["spec"]["dryRun"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|d| d["metricName"].as_str())
            .collect();
        for metric in run["spec"]["metrics"].as_array().into_iter().flatten() {
            let metric_name = metric["name"].as_str().unwrap_or_default();
            let kind = provider_type(&metric["provider"]);
            metric_type
                .with_label_values(&[ns, name, metric_name, kind])
                .set(1.0);
            let result_phase = run["status"]["metricResults"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|m| m["name"] == metric_name)
                .and_then(|m| m["phase"].as_str())
                .unwrap_or_default();
            let dry_run = dry.iter().any(|d| *d == "*" || *d == metric_name);
            let dry_run = if dry_run { "true" } else { "false" };
            for p in RUN_PHASES {
                metric_phase
                    .with_label_values(&[ns, name, metric_name, kind, dry_run, p])
                    .set(is(result_phase, p));
            }
        }
    }

    let experiment_info = gauge(
        "experiment_info",
        "Information about Experiment.",
        &["namespace", "name", "phase"],
    );
    let experiment_phase = gauge(
        "experiment_phase",
        "Information on the state of the experiment (DEPRECATED - use experiment_info)",
        &["namespace", "name", "phase"],
    );
    for e in experiments {
        let (ns, name) = names(e);
        let phase = e["status"]["phase"].as_str().unwrap_or_default();
        experiment_info
            .with_label_values(&[ns, name, phase])
            .set(1.0);
        // Argo's deprecated gauge has no Failed series.
        for p in ["Pending", "Error", "Successful", "Running", "Inconclusive"] {
            experiment_phase
                .with_label_values(&[ns, name, p])
                .set(is(phase, p));
        }
    }

    let version = gauge(
        "argo_rollouts_controller_info",
        "Running Argo-rollouts version",
        &["version"],
    );
    version
        .with_label_values(&[concat!("weir-", env!("CARGO_PKG_VERSION"))])
        .set(1.0);
    let leader = GaugeVec::new(
        Opts::new(
            "weir_controller_leader",
            "Whether this replica is the one acting.",
        ),
        &[],
    )
    .expect("a valid metric");
    leader
        .with_label_values(&[] as &[&str])
        .set(f64::from(u8::from(leading)));

    [
        info,
        available,
        unavailable,
        desired,
        updated,
        phase,
        run_info,
        run_phase,
        metric_type,
        metric_phase,
        experiment_info,
        experiment_phase,
        version,
        leader,
    ]
    .iter()
    .flat_map(prometheus::core::Collector::collect)
    // A family with no series (no AnalysisRuns yet) is an error to the encoder.
    .filter(|f| !f.get_metric().is_empty())
    .collect()
}

/// Argo's `analysis_template_info` and `analysis_template_metric_info` over the
/// AnalysisTemplates and ClusterAnalysisTemplates (the latter with an empty namespace).
fn template_families(templates: &[Value]) -> Vec<prometheus::proto::MetricFamily> {
    let info = GaugeVec::new(
        Opts::new(
            "analysis_template_info",
            "Information about analysis templates.",
        ),
        &["namespace", "name"],
    )
    .expect("a valid metric");
    let metric_info = GaugeVec::new(
        Opts::new(
            "analysis_template_metric_info",
            "Information on metrics in analysis templates.",
        ),
        &["namespace", "name", "type", "metric"],
    )
    .expect("a valid metric");
    for t in templates {
        let (ns, name) = names(t);
        info.with_label_values(&[ns, name]).set(1.0);
        for m in t["spec"]["metrics"].as_array().into_iter().flatten() {
            let metric = m["name"].as_str().unwrap_or_default();
            metric_info
                .with_label_values(&[ns, name, provider_type(&m["provider"]), metric])
                .set(1.0);
        }
    }
    [info, metric_info]
        .iter()
        .flat_map(prometheus::core::Collector::collect)
        .filter(|f| !f.get_metric().is_empty())
        .collect()
}

fn names(o: &Value) -> (&str, &str) {
    (
        o["metadata"]["namespace"].as_str().unwrap_or_default(),
        o["metadata"]["name"].as_str().unwrap_or_default(),
    )
}

/// Argo's `getStrategyAndTrafficRouter`: the strategy, and the in-tree router it names
/// (plugins get none).
fn strategy_and_router(r: &Value) -> (&'static str, &'static str) {
    let strategy = &r["spec"]["strategy"];
    if strategy["blueGreen"].is_object() {
        return ("blueGreen", "");
    }
    if !strategy["canary"].is_object() {
        return ("none", "");
    }
    let routing = &strategy["canary"]["trafficRouting"];
    // Argo checks them in this order, the last present one winning.
    let mut router = "";
    for (field, label) in [
        ("alb", "ALB"),
        ("ambassador", "Ambassador"),
        ("istio", "Istio"),
        ("nginx", "Nginx"),
        ("smi", "SMI"),
        ("appMesh", "AppMesh"),
    ] {
        if routing[field].is_object() {
            router = label;
        }
    }
    ("canary", router)
}

/// Argo's `calculatePhase`: from the Progressing condition's reason, InvalidSpec above all.
pub fn rollout_phase(r: &Value) -> &'static str {
    let conditions = r["status"]["conditions"].as_array();
    let find = |t: &str| conditions.into_iter().flatten().find(|c| c["type"] == t);
    if find("InvalidSpec").is_some() {
        return "InvalidSpec";
    }
    match find("Progressing").and_then(|c| c["reason"].as_str()) {
        Some("NewReplicaSetAvailable") => "Completed",
        Some("RolloutPaused") => "Paused",
        Some("ReplicaSetCreateError") => "Error",
        Some("ProgressDeadlineExceeded") => "Timeout",
        Some("RolloutAborted") => "Abort",
        _ => "Progressing",
    }
}

/// Argo's `metricproviders.Type`: the provider's type name, as its metrics label it.
fn provider_type(provider: &Value) -> &'static str {
    for (field, label) in [
        ("prometheus", "Prometheus"),
        ("job", "Job"),
        ("kayenta", "Kayenta"),
        ("web", "Web"),
        ("datadog", "Datadog"),
        ("wavefront", "Wavefront"),
        ("newRelic", "NewRelic"),
        ("cloudWatch", "CloudWatch"),
        ("graphite", "Graphite"),
        ("influxdb", "Influxdb"),
        ("skywalking", "skywalking"),
        ("plugin", "RPCPlugin"),
        ("weir", "Weir"),
    ] {
        if provider[field].is_object() {
            return label;
        }
    }
    "Unknown Provider"
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rollout(conditions: Value, strategy: Value) -> Value {
        json!({
            "metadata": {"namespace": "default", "name": "web"},
            "spec": {"replicas": 5, "strategy": strategy},
            "status": {"conditions": conditions, "replicas": 6, "availableReplicas": 4, "updatedReplicas": 1},
        })
    }

    #[test]
    fn the_calculated_phase_is_argos() {
        let progressing =
            |reason: &str| json!([{"type": "Progressing", "status": "True", "reason": reason}]);
        let canary = json!({"canary": {}});
        for (reason, phase) in [
            ("NewReplicaSetAvailable", "Completed"),
            ("RolloutPaused", "Paused"),
            ("ReplicaSetCreateError", "Error"),
            ("ProgressDeadlineExceeded", "Timeout"),
            ("RolloutAborted", "Abort"),
            ("ReplicaSetUpdated", "Progressing"),
        ] {
            assert_eq!(
                rollout_phase(&rollout(progressing(reason), canary.clone())),
                phase
            );
        }
        let invalid = json!([
            {"type": "Progressing", "reason": "NewReplicaSetAvailable"},
            {"type": "InvalidSpec", "status": "True", "reason": "InvalidSpec"},
        ]);
        assert_eq!(rollout_phase(&rollout(invalid, canary)), "InvalidSpec");
        assert_eq!(rollout_phase(&json!({})), "Progressing");
    }

    #[test]
    fn the_scrape_has_argos_names_and_labels() {
        let nginx = rollout(
            json!([{"type": "Progressing", "reason": "RolloutPaused"}]),
            json!({"canary": {"trafficRouting": {"nginx": {"stableIngress": "web"}}}}),
        );
        let run = json!({
            "metadata": {"namespace": "default", "name": "web-abc-2-1"},
            "spec": {"metrics": [
                {"name": "rate", "provider": {"prometheus": {"query": "up"}}},
                {"name": "smoke", "provider": {"job": {"spec": {}}}},
            ], "dryRun": [{"metricName": "smoke"}]},
            "status": {"phase": "Running", "metricResults": [{"name": "rate", "phase": "Successful"}]},
        });
        let experiment = json!({
            "metadata": {"namespace": "default", "name": "web-abc-2-0"},
            "status": {"phase": "Running"},
        });
        let template = json!({
            "metadata": {"name": "success-rate"},
            "spec": {"metrics": [{"name": "rate", "provider": {"web": {"url": "http://x"}}}]},
        });
        let text = {
            let mut families = cache_families(&[nginx], &[run], &[experiment], true);
            families.extend(template_families(&[template]));
            let mut out = Vec::new();
            TextEncoder::new().encode(&families, &mut out).unwrap();
            String::from_utf8(out).unwrap()
        };
        for line in [
            r#"experiment_info{name="web-abc-2-0",namespace="default",phase="Running"} 1"#,
            r#"analysis_template_info{name="success-rate",namespace=""} 1"#,
            r#"analysis_template_metric_info{metric="rate",name="success-rate",namespace="",type="Web"} 1"#,
            r#"experiment_phase{name="web-abc-2-0",namespace="default",phase="Running"} 1"#,
            r#"experiment_phase{name="web-abc-2-0",namespace="default",phase="Pending"} 0"#,
            r#"rollout_info{name="web",namespace="default",phase="Paused",strategy="canary",traffic_router="Nginx"} 1"#,
            r#"rollout_info_replicas_available{name="web",namespace="default"} 4"#,
            r#"rollout_info_replicas_unavailable{name="web",namespace="default"} 2"#,
            r#"rollout_info_replicas_desired{name="web",namespace="default"} 5"#,
            r#"rollout_info_replicas_updated{name="web",namespace="default"} 1"#,
            r#"rollout_phase{name="web",namespace="default",phase="Paused",strategy="canary"} 1"#,
            r#"rollout_phase{name="web",namespace="default",phase="Completed",strategy="canary"} 0"#,
            r#"analysis_run_info{name="web-abc-2-1",namespace="default",phase="Running"} 1"#,
            r#"analysis_run_metric_type{metric="smoke",name="web-abc-2-1",namespace="default",type="Job"} 1"#,
            r#"analysis_run_metric_phase{dry_run="false",metric="rate",name="web-abc-2-1",namespace="default",phase="Successful",type="Prometheus"} 1"#,
            r#"analysis_run_metric_phase{dry_run="true",metric="smoke",name="web-abc-2-1",namespace="default",phase="Pending",type="Job"} 1"#,
            "weir_controller_leader 1",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} not in\n{text}");
        }
    }

    #[test]
    fn counters_keep_argos_names() {
        let m = Metrics::new();
        m.reconciled(
            Kind::Rollout,
            "default",
            "web",
            Duration::from_millis(20),
            false,
        );
        m.reconciled(
            Kind::AnalysisRun,
            "default",
            "run",
            Duration::from_millis(2),
            true,
        );
        count_event("default", "web", false, "RolloutUpdated");
        let text = m.render(false);
        for line in [
            r#"rollout_reconcile_bucket{name="web",namespace="default",le="0.01"} 0"#,
            r#"rollout_reconcile_bucket{name="web",namespace="default",le="0.15"} 1"#,
            r#"rollout_reconcile_count{name="web",namespace="default"} 1"#,
            r#"rollout_reconcile_error{name="web",namespace="default"} 1"#,
            r#"analysis_run_reconcile_count{name="run",namespace="default"} 1"#,
            r#"rollout_events_total{name="web",namespace="default",reason="RolloutUpdated",type="Normal"} 1"#,
            "weir_controller_leader 0",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} not in\n{text}");
        }
        assert!(!text.contains("analysis_run_reconcile_error{"), "{text}");
        #[cfg(target_os = "linux")]
        assert!(text.contains("process_start_time_seconds "), "{text}");
        assert!(
            text.contains("argo_rollouts_controller_info{version=\"weir-"),
            "{text}"
        );
    }
}
