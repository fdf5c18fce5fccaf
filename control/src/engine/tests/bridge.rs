//! AnalysisTemplate (+ ClusterAnalysisTemplate) + a Rollout's args -> AnalysisRunSpec.

use std::time::Duration;

use super::*;
use crate::engine::analysis_bridge::{build_run, AnalysisRef, BridgeError, Hashes};
use weir_config::argo::{AnalysisTemplateSpec, MetricProvider, RolloutAnalysis};

fn template(v: Value) -> AnalysisTemplateSpec {
    serde_json::from_value(v).expect("template")
}

fn analysis(v: Value) -> RolloutAnalysis {
    serde_json::from_value(v).expect("rollout analysis")
}

type Built = (crate::analysis::AnalysisRunSpec, Vec<MetricProvider>);

fn build(catalog: &AnalysisTemplates, a: &RolloutAnalysis) -> Result<Built, BridgeError> {
    let mut r = rollout(four_steps());
    r.metadata.labels.insert("team".into(), "payments".into());
    let reference = AnalysisRef {
        templates: &a.templates,
        args: &a.args,
        dry_run: &a.dry_run,
        measurement_retention: &a.measurement_retention,
    };
    build_run(
        &r,
        &reference,
        catalog,
        &Hashes {
            stable: "s1",
            latest: "c2",
        },
    )
}

fn prom(query: &str) -> Value {
    json!({"prometheus": {"address": "http://prom:9090", "query": query}})
}

#[test]
fn args_resolve_numeric_and_duration_fields_and_merge_over_the_templates() {
    let mut catalog = AnalysisTemplates::default();
    catalog.namespaced.insert("rate".into(), template(json!({
        "args": [{"name": "count"}, {"name": "interval", "value": "10s"}, {"name": "hash"}, {"name": "stable"}, {"name": "who"}, {"name": "team"}],
        "metrics": [{
            "name": "rate-{{args.hash}}",
            "count": "{{args.count}}",
            "interval": "{{args.interval}}",
            "initialDelay": "5s",
            "failureLimit": "{{ args.count }}",
            "inconclusiveLimit": 2,
            "successCondition": "result > 0",
            "provider": prom("q{{args.who}}"),
        }],
        "dryRun": [{"metricName": "latency"}],
        "templates": [{"templateName": "shared", "clusterScope": true}],
    })));
    catalog.cluster.insert(
        "shared".into(),
        template(json!({
            "args": [{"name": "interval"}],
            "metrics": [{"name": "latency", "provider": prom("p99")}],
            "measurementRetention": [{"metricName": "latency", "limit": 3}],
        })),
    );
    let a = analysis(json!({
        "templates": [{"templateName": "rate"}],
        "args": [
            {"name": "count", "value": "3"},
            {"name": "interval", "value": "2m"},
            {"name": "hash", "valueFrom": {"podTemplateHashValue": "Latest"}},
            {"name": "stable", "valueFrom": {"podTemplateHashValue": "Stable"}},
            {"name": "who", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
            {"name": "team", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['team']"}}},
            {"name": "ignored", "value": "x"},
        ],
        "dryRun": [{"metricName": "rate-.*"}],
    }));
    let (spec, providers) = build(&catalog, &a).unwrap();
    let m = &spec.metrics[0];
    assert_eq!(
        m.name, "rate-{{args.hash}}",
        "names are resolved by the run itself"
    );
    assert_eq!(m.count, Some(3));
    assert_eq!(m.interval, Some(Duration::from_secs(120)));
    assert_eq!(m.initial_delay, Some(Duration::from_secs(5)));
    assert_eq!(m.failure_limit, Some(3));
    assert_eq!(m.inconclusive_limit, Some(2));
    assert_eq!(
        spec.metrics[1].name, "latency",
        "cluster templates come after namespaced ones"
    );
    let value = |n: &str| {
        spec.args
            .iter()
            .find(|a| a.name == n)
            .and_then(|a| a.value.clone())
    };
    assert_eq!(value("hash").as_deref(), Some("c2"));
    assert_eq!(value("stable").as_deref(), Some("s1"));
    assert_eq!(value("who").as_deref(), Some("web"));
    assert_eq!(value("team").as_deref(), Some("payments"));
    assert_eq!(
        value("ignored"),
        None,
        "args the templates do not declare are dropped"
    );
    let dry: Vec<&str> = spec
        .dry_run
        .iter()
        .map(|d| d.metric_name.as_str())
        .collect();
    assert_eq!(dry, ["rate-.*", "latency"]);
    assert_eq!(spec.measurement_retention[0].limit, 3);
    assert_eq!(providers.len(), 2);
    assert_eq!(providers[1].prometheus.as_ref().unwrap().query, "p99");
    // The run resolves the rest: its metric is named after the canary's hash.
    let run = crate::analysis::AnalysisRun::new(spec, Timestamp::from_millis(T0));
    assert_eq!(run.metrics()[0].name, "rate-c2");
}

#[test]
fn errors_say_what_is_wrong() {
    let mut catalog = AnalysisTemplates::default();
    catalog.namespaced.insert("a".into(), template(json!({"metrics": [{"name": "m", "provider": prom("1")}], "args": [{"name": "x", "value": "1"}]})));
    catalog.namespaced.insert(
        "b".into(),
        template(json!({"metrics": [{"name": "m", "provider": prom("2")}]})),
    );
    catalog.namespaced.insert("c".into(), template(json!({"metrics": [{"name": "n", "provider": prom("3")}], "args": [{"name": "x", "value": "2"}]})));
    catalog.namespaced.insert("needs".into(), template(json!({"metrics": [{"name": "n", "count": "{{args.n}}", "provider": prom("3")}], "args": [{"name": "n"}]})));
    let refs = |names: &[&str]| json!({"templates": names.iter().map(|n| json!({"templateName": n})).collect::<Vec<_>>()});
    type Row = (&'static str, Value, &'static str);
    let rows: [Row; 6] = [
        (
            "missing",
            refs(&["nope"]),
            "AnalysisTemplate 'nope' not found",
        ),
        (
            "missing cluster",
            json!({"templates": [{"templateName": "nope", "clusterScope": true}]}),
            "ClusterAnalysisTemplate 'nope' not found",
        ),
        (
            "duplicate metric",
            refs(&["a", "b"]),
            "two metrics have the same name 'm'",
        ),
        (
            "conflicting args",
            refs(&["a", "c"]),
            "Argument `x` specified multiple times with different values: '1', '2'",
        ),
        (
            "unsupplied arg",
            refs(&["needs"]),
            "args.n was not resolved",
        ),
        (
            "bad count",
            json!({"templates": [{"templateName": "needs"}], "args": [{"name": "n", "value": "many"}]}),
            "metric 'n': count \"many\" is not valid: expected an integer",
        ),
    ];
    for (name, a, message) in rows {
        let err = build(&catalog, &analysis(a)).unwrap_err();
        assert_eq!(err.to_string(), message, "{name}");
    }
}
